/**
 * `warren serve`'s forwarding policy with real clients: --permit-open and
 * permitopen=, --permit-listen, from= (CIDR, negation), restrict, and where
 * remote listeners bind with and without --gateway-ports. Each refusal is
 * checked as the user sees it: curl failing through the tunnel, ssh's and
 * warren's messages and exit codes, and the server's log.
 *
 * Same setup as serve_test.ts; ignored with one line when root, iproute2 or
 * ssh is missing.
 */
import assert from "node:assert/strict";
import { LiveCli, runCli } from "./_harness/cli.ts";
import { freePort } from "./_harness/free_port.ts";
import { LiveProc, runProc } from "./_harness/live_proc.ts";
import { createNetnsHost } from "./_harness/netns.ts";
import { startOrigin } from "./_harness/origin.ts";
import {
  curl,
  emptyHome,
  serveTestsSkipReason,
  sshArgs,
  sshTo as ssh,
  startServe,
  waitListening,
  warrenArgs,
} from "./_harness/serve.ts";
import { skipWhen } from "./_harness/skip.ts";

const ignore = skipWhen("warren serve tests", serveTestsSkipReason());

Deno.test(
  { name: "serve --permit-open and permitopen=: other destinations are refused", ignore },
  async (t) => {
    await using netns = await createNetnsHost();
    await using origin = await startOrigin({ netns });
    const allowed = `127.0.0.1:${origin.httpPort}`;
    const denied = `127.0.0.1:${origin.echoPort}`;
    const cases = [
      {
        name: "--permit-open",
        serve: { netns, args: ["--permit-open", allowed] },
        why: "is not allowed by --permit-open",
      },
      {
        name: "permitopen=",
        serve: { netns, keyOptions: `permitopen="${allowed}"` },
        why: "is not in the key's permitopen",
      },
    ];
    for (const c of cases) {
      await t.step(c.name, async () => {
        await using served = await startServe(c.serve);
        const [ok, no] = [freePort(), freePort()];
        await using proc = LiveProc.spawn("ssh", [
          "-N",
          ...["-L", `${ok}:${allowed}`, "-L", `${no}:${denied}`],
          ...sshArgs(served),
        ]);
        await served.cli.waitFor(/accepted publickey/);
        await waitListening(ok);
        assert.equal((await curl(`http://127.0.0.1:${ok}/hello`)).stdout, "hello from origin\n");
        const r = await curl(`http://127.0.0.1:${no}/hello`);
        assert.notEqual(r.code, 0, "curl through a refused destination must fail");
        const msg = new RegExp(
          `administratively prohibited: ${denied.replace(/\./g, "\\.")} ${c.why}`,
        );
        await proc.waitFor(msg);
        await served.cli.waitFor(
          new RegExp(`refused direct-tcpip to ${denied.replace(/\./g, "\\.")}`),
        );

        const w = freePort();
        await using client = new LiveCli(["-L", `${w}:${denied}`, ...warrenArgs(served)]);
        await client.waitFor(/Local tunnel/);
        assert.notEqual((await curl(`http://127.0.0.1:${w}/hello`)).code, 0);
        await client.waitFor(
          new RegExp(`Server refused ${denied.replace(/\./g, "\\.")}: .*${c.why}`),
        );
        assert.equal(await client.stop(), 0);
      });
    }
  },
);

Deno.test(
  { name: "serve --permit-listen: other remote listeners are refused", ignore },
  async () => {
    await using served = await startServe({ args: ["--permit-listen", "0"] });
    await using here = await startOrigin();
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const r = await ssh(served, [
      "-N",
      "-o",
      "ExitOnForwardFailure=yes",
      "-R",
      `${port}:127.0.0.1:${here.httpPort}`,
    ]);
    assert.equal(r.code, 255);
    assert.match(r.stderr, new RegExp(`remote port forwarding failed for listen port ${port}`));
    await served.cli.waitFor(
      new RegExp(`refused remote forward on localhost:${port}: not allowed by --permit-listen`),
    );

    const w = await runCli([
      "--abort-on-failing-tunnel",
      ...["-R", `${port}:127.0.0.1:${here.httpPort}`],
      ...warrenArgs(served),
      "--",
      "true",
    ], { env: await emptyHome(served) });
    assert.equal(w.code, 1, w.stderr);
    assert.match(w.stderr, new RegExp(`Server refused to listen on localhost:${port}`));

    // Port 0 (the server picks) is what --permit-listen 0 allows.
    await using client = new LiveCli(["-R", `0:127.0.0.1:${here.httpPort}`, ...warrenArgs(served)]);
    const m = await client.waitFor(/the server assigned port (\d+)/);
    const inside = await runProc("curl", [
      "-sS",
      "--max-time",
      "20",
      `http://127.0.0.1:${m[1]}/hello`,
    ], {
      netns: served.netns,
    });
    assert.equal(inside.stdout, "hello from origin\n", inside.stderr);
  },
);

Deno.test({ name: "serve honours from= (CIDR, negation) and restrict", ignore }, async (t) => {
  await using netns = await createNetnsHost();
  const me = netns.hostAddr; // the address clients on this host come from
  const refused = [`from="10.0.0.0/8"`, `from="!${me},*"`, `from="!169.254.0.0/16,*"`];
  for (const keyOptions of refused) {
    await t.step(`${keyOptions}: Permission denied`, async () => {
      await using served = await startServe({ netns, keyOptions });
      const r = await ssh(served, ["-N", "-o", "ExitOnForwardFailure=yes"], []);
      assert.equal(r.code, 255);
      assert.match(r.stderr, /Permission denied \(publickey\)/);
      await served.cli.waitFor(new RegExp(`does not admit ${me.replace(/\./g, "\\.")}`));
    });
  }
  for (const keyOptions of [`from="169.254.0.0/16"`, `from="${me}"`, `from="169.254.*,!10.*"`]) {
    await t.step(`${keyOptions}: admitted`, async () => {
      await using served = await startServe({ netns, keyOptions });
      const r = await runCli([...warrenArgs(served), "--", "true"], {
        env: await emptyHome(served),
      });
      assert.equal(r.code, 0, r.stderr);
    });
  }
  await t.step("restrict: logged in, but every tunnel is refused", async () => {
    await using origin = await startOrigin({ netns });
    await using served = await startServe({ netns, keyOptions: "restrict" });
    const port = freePort();
    await using proc = LiveProc.spawn("ssh", [
      "-N",
      "-L",
      `${port}:127.0.0.1:${origin.httpPort}`,
      ...sshArgs(served),
    ]);
    await served.cli.waitFor(/accepted publickey/);
    await waitListening(port);
    assert.notEqual((await curl(`http://127.0.0.1:${port}/hello`)).code, 0);
    await proc.waitFor(/administratively prohibited: port forwarding is disabled for this key/);
    const r = await ssh(served, ["-N", "-o", "ExitOnForwardFailure=yes", "-R", "0:127.0.0.1:9"]);
    assert.equal(r.code, 255);
    assert.match(r.stderr, /remote port forwarding failed/);
  });
});

Deno.test(
  { name: "serve: remote listeners bind loopback unless --gateway-ports", ignore },
  async (t) => {
    await using here = await startOrigin();
    for (const gateway of [false, true]) {
      await t.step(
        gateway
          ? "--gateway-ports: '*' listens on every address"
          : "default: '*' still gets loopback",
        async () => {
          await using served = await startServe({ args: gateway ? ["--gateway-ports"] : [] });
          await using proc = LiveProc.spawn("ssh", [
            "-N",
            "-R",
            `*:0:127.0.0.1:${here.httpPort}`,
            ...sshArgs(served),
          ]);
          const port = Number((await proc.waitFor(/Allocated port (\d+)/))[1]);
          const inside = await runProc("curl", [
            "-sS",
            "--max-time",
            "20",
            `http://127.0.0.1:${port}/hello`,
          ], {
            netns: served.netns,
          });
          assert.equal(inside.stdout, "hello from origin\n", inside.stderr);
          const outside = await curl(`http://${served.host}:${port}/hello`);
          if (gateway) assert.equal(outside.stdout, "hello from origin\n", outside.stderr);
          else assert.notEqual(outside.code, 0, "reachable from outside without --gateway-ports");
          if (!gateway) {
            await served.cli.waitFor(
              /asked for \*:0; loopback only without --gateway-ports/,
            );
          }
        },
      );
    }
  },
);
