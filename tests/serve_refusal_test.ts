/**
 * What `warren serve` refuses, each seen the way the client's user sees it:
 * OpenSSH's ssh exit status and message, warren's exit status and message,
 * curl failing through a tunnel that was not allowed, and the server's log.
 * Also: a failing peer ends only its own connection.
 *
 * Same setup as serve_test.ts (warren serve and the origins in a network
 * namespace); ignored with one line when root, iproute2 or ssh is missing.
 */
import assert from "node:assert/strict";
import { LiveCli, runCli } from "./_harness/cli.ts";
import { freePort } from "./_harness/free_port.ts";
import { LiveProc, runProc } from "./_harness/live_proc.ts";
import { createNetnsHost, netnsSupport } from "./_harness/netns.ts";
import { startOrigin } from "./_harness/origin.ts";
import { type Served, sshArgs, startServe, warrenArgs } from "./_harness/serve.ts";

const ns = netnsSupport();
const hasSsh = (() => {
  try {
    return Deno.statSync("/usr/bin/ssh").isFile;
  } catch {
    return false;
  }
})();
const ignore = !ns.ok || !hasSsh;
if (ignore) console.error(`skipping warren serve tests: ${!ns.ok ? ns.reason : "no /usr/bin/ssh"}`);

/** ssh OPTIONS... HOST COMMAND... */
const ssh = (s: Served, options: string[], command: string[] = [], key?: string) =>
  runProc("ssh", [...options, ...sshArgs(s, key), ...command]);
const curl = (url: string, extra: string[] = []) => runProc("curl", ["-sS", "--max-time", "20", ...extra, url]);

/** An empty HOME, so warren's client finds no default keys or known_hosts. */
async function emptyHome(s: Served): Promise<Record<string, string>> {
  const home = `${s.dir}/home`;
  await Deno.mkdir(home, { recursive: true });
  return { HOME: home, SSH_AUTH_SOCK: "" };
}

Deno.test({ name: "serve refuses passwords, unknown keys, shells, exec and subsystems", ignore }, async (t) => {
  await using served = await startServe();

  await t.step("ssh with a password only: Permission denied (publickey), 255", async () => {
    const r = await ssh(
      served,
      ["-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password,keyboard-interactive"],
      ["true"],
    );
    assert.equal(r.code, 255);
    assert.match(r.stderr, /Permission denied \(publickey\)/);
  });

  await t.step("warren with -P and no key: exit 1, the server accepts publickey", async () => {
    const env = { ...await emptyHome(served), PW: "secret" };
    const args = warrenArgs(served).filter((a, i, all) => a !== "-i" && all[i - 1] !== "-i");
    const r = await runCli(["-P", "env://PW", ...args, "--", "true"], { env });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /Cannot authenticate as tester to \S+: tried .*the server accepts publickey$/m);
  });

  await t.step("a key not in authorized_keys: ssh 255, warren exit 1, logged", async () => {
    const r = await ssh(served, [], ["true"], served.otherKey);
    assert.equal(r.code, 255);
    assert.match(r.stderr, /Permission denied \(publickey\)/);
    const w = await runCli([...warrenArgs(served, served.otherKey), "--", "true"], { env: await emptyHome(served) });
    assert.equal(w.code, 1, w.stderr);
    assert.match(w.stderr, /Cannot authenticate as tester to \S+: tried publickey/);
    await served.cli.waitFor(/refused publickey ssh-ed25519 SHA256:\S+ for tester: the key is not in the authorized keys/);
  });

  const prohibited = /open failed: administratively prohibited: warren serve forwards TCP ports only; it offers no sessions/;
  await t.step("ssh -T (a shell): the session channel is refused, 255", async () => {
    const r = await ssh(served, ["-T"]);
    assert.equal(r.code, 255);
    assert.match(r.stderr, prohibited);
  });

  await t.step("ssh host command (exec): refused, the command never runs", async () => {
    const e = await ssh(served, [], ["echo", "ran"]);
    assert.equal(e.code, 255);
    assert.equal(e.stdout, "");
    assert.match(e.stderr, prohibited);
  });

  await t.step("ssh -s host sftp (a subsystem): refused", async () => {
    const r = await ssh(served, ["-s"], ["sftp"]);
    assert.equal(r.code, 255);
    assert.match(r.stderr, prohibited);
  });

  await t.step("the server logged each refusal and is still serving", async () => {
    assert.match(served.log(), /refused session channel: warren serve forwards TCP ports only/);
    const r = await runCli([...warrenArgs(served), "--", "true"], { env: await emptyHome(served) });
    assert.equal(r.code, 0, r.stderr);
  });
});

Deno.test({ name: "serve --permit-open and permitopen=: other destinations are refused", ignore }, async (t) => {
  await using netns = await createNetnsHost();
  await using origin = await startOrigin({ netns });
  const allowed = `127.0.0.1:${origin.httpPort}`;
  const denied = `127.0.0.1:${origin.echoPort}`;
  const cases = [
    { name: "--permit-open", serve: { netns, args: ["--permit-open", allowed] }, why: "is not allowed by --permit-open" },
    { name: "permitopen=", serve: { netns, keyOptions: `permitopen="${allowed}"` }, why: "is not in the key's permitopen" },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await using served = await startServe(c.serve);
      const [ok, no] = [freePort(), freePort()];
      await using proc = new LiveProc("ssh", [
        "-N",
        ...["-L", `${ok}:${allowed}`, "-L", `${no}:${denied}`],
        ...sshArgs(served),
      ]);
      await served.cli.waitFor(/accepted publickey/);
      await waitListening(ok);
      assert.equal((await curl(`http://127.0.0.1:${ok}/hello`)).stdout, "hello from origin\n");
      const r = await curl(`http://127.0.0.1:${no}/hello`);
      assert.notEqual(r.code, 0, "curl through a refused destination must fail");
      const msg = new RegExp(`administratively prohibited: ${denied.replace(/\./g, "\\.")} ${c.why}`);
      await proc.waitFor(msg);
      await served.cli.waitFor(new RegExp(`refused direct-tcpip to ${denied.replace(/\./g, "\\.")}`));

      const w = freePort();
      await using client = new LiveCli(["-L", `${w}:${denied}`, ...warrenArgs(served)]);
      await client.waitFor(/Local tunnel/);
      assert.notEqual((await curl(`http://127.0.0.1:${w}/hello`)).code, 0);
      await client.waitFor(new RegExp(`Server refused ${denied.replace(/\./g, "\\.")}: .*${c.why}`));
      assert.equal(await client.stop(), 0);
    });
  }
});

/** Dial until ssh's -L listener accepts (ssh -N prints nothing when ready). */
async function waitListening(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  throw new Error(`nothing listens on 127.0.0.1:${port}`);
}

Deno.test({ name: "serve --permit-listen: other remote listeners are refused", ignore }, async () => {
  await using served = await startServe({ args: ["--permit-listen", "0"] });
  await using here = await startOrigin();
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const r = await ssh(served, ["-N", "-o", "ExitOnForwardFailure=yes", "-R", `${port}:127.0.0.1:${here.httpPort}`]);
  assert.equal(r.code, 255);
  assert.match(r.stderr, new RegExp(`remote port forwarding failed for listen port ${port}`));
  await served.cli.waitFor(new RegExp(`refused remote forward on localhost:${port}: not allowed by --permit-listen`));

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
  const inside = await runProc("curl", ["-sS", "--max-time", "20", `http://127.0.0.1:${m[1]}/hello`], {
    netns: served.netns,
  });
  assert.equal(inside.stdout, "hello from origin\n", inside.stderr);
});

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
      const r = await runCli([...warrenArgs(served), "--", "true"], { env: await emptyHome(served) });
      assert.equal(r.code, 0, r.stderr);
    });
  }
  await t.step("restrict: logged in, but every tunnel is refused", async () => {
    await using origin = await startOrigin({ netns });
    await using served = await startServe({ netns, keyOptions: "restrict" });
    const port = freePort();
    await using proc = new LiveProc("ssh", ["-N", "-L", `${port}:127.0.0.1:${origin.httpPort}`, ...sshArgs(served)]);
    await served.cli.waitFor(/accepted publickey/);
    await waitListening(port);
    assert.notEqual((await curl(`http://127.0.0.1:${port}/hello`)).code, 0);
    await proc.waitFor(/administratively prohibited: port forwarding is disabled for this key/);
    const r = await ssh(served, ["-N", "-o", "ExitOnForwardFailure=yes", "-R", "0:127.0.0.1:9"]);
    assert.equal(r.code, 255);
    assert.match(r.stderr, /remote port forwarding failed/);
  });
});

Deno.test({ name: "serve: remote listeners bind loopback unless --gateway-ports", ignore }, async (t) => {
  await using here = await startOrigin();
  for (const gateway of [false, true]) {
    await t.step(gateway ? "--gateway-ports: '*' listens on every address" : "default: '*' still gets loopback", async () => {
      await using served = await startServe({ args: gateway ? ["--gateway-ports"] : [] });
      await using proc = new LiveProc("ssh", ["-N", "-R", `*:0:127.0.0.1:${here.httpPort}`, ...sshArgs(served)]);
      const port = Number((await proc.waitFor(/Allocated port (\d+)/))[1]);
      const inside = await runProc("curl", ["-sS", "--max-time", "20", `http://127.0.0.1:${port}/hello`], {
        netns: served.netns,
      });
      assert.equal(inside.stdout, "hello from origin\n", inside.stderr);
      const outside = await curl(`http://${served.host}:${port}/hello`);
      if (gateway) assert.equal(outside.stdout, "hello from origin\n", outside.stderr);
      else assert.notEqual(outside.code, 0, "reachable from outside without --gateway-ports");
      if (!gateway) await served.cli.waitFor(/asked for \*:0; loopback only without --gateway-ports/);
    });
  }
});

Deno.test({ name: "serve: a failing peer ends its own connection only", ignore }, async () => {
  await using served = await startServe();
  await using origin = await startOrigin({ netns: served.netns });
  const [a, b] = [freePort(), freePort()];
  await using first = new LiveProc("ssh", ["-N", "-L", `${a}:127.0.0.1:${origin.httpPort}`, ...sshArgs(served)]);
  await served.cli.waitFor(/#1 accepted publickey/);
  await using second = new LiveProc("ssh", ["-N", "-L", `${b}:127.0.0.1:${origin.httpPort}`, ...sshArgs(served)]);
  await served.cli.waitFor(/#2 accepted publickey/);
  await waitListening(a);
  await waitListening(b);
  // A download through the first is cut by SIGKILL of its ssh mid-transfer.
  const download = curl(`http://127.0.0.1:${a}/bytes/${1 << 30}`, ["-o", "/dev/null", "--limit-rate", "1M"]);
  await served.cli.waitFor(/#1 direct-tcpip \S+ -> 127\.0\.0\.1:\d+[\s\S]*#1 direct-tcpip/);
  await first.stop("SIGKILL");
  assert.notEqual((await download).code, 0);
  await served.cli.waitFor(/#1 closed after/);
  // Garbage instead of SSH: that connection is dropped, nothing else.
  const junk = await Deno.connect({ hostname: served.host, port: served.port });
  await junk.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(200)));
  const buf = new Uint8Array(4096);
  while (await junk.read(buf).catch(() => null) !== null) { /* until the server drops us */ }
  junk.close();
  assert.equal((await curl(`http://127.0.0.1:${b}/hello`)).stdout, "hello from origin\n");
  await served.cli.waitFor(/#3 connection from \S+ closed before the SSH handshake/);
  assert.ok(second.running, second.output);
  assert.equal(await served.stop(), 0, served.log());
});
