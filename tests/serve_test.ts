/**
 * `warren serve` against real clients: OpenSSH's ssh (-L, -R, -D, and what it
 * must refuse), warren's own client, and curl through every tunnel.
 *
 * warren serve runs as a user runs it (main.ts, the binary's permissions)
 * inside a network namespace, with the origins on the namespace's loopback:
 * only traffic that really crosses SSH reaches them. Needs root, iproute2
 * and the OpenSSH client; otherwise ignored with one line saying why.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { LiveCli } from "./_harness/cli.ts";
import { freePort } from "./_harness/free_port.ts";
import { LiveProc, runProc } from "./_harness/live_proc.ts";
import { roundTrip, testBytes } from "./_harness/local_servers.ts";
import { startOrigin } from "./_harness/origin.ts";
import { patternBytes } from "./_harness/pattern.ts";
import {
  type Served,
  serveTestsSkipReason,
  sshArgs,
  startServe,
  waitListening,
  warrenArgs,
} from "./_harness/serve.ts";
import { skipWhen } from "./_harness/skip.ts";
import { startDelayRelay } from "./_harness/delay_relay.ts";

const ignore = skipWhen("warren serve tests", serveTestsSkipReason());
const MiB = 1024 * 1024;

async function curl(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await runProc("curl", ["-sS", "--max-time", "30", ...args]);
  return { code: r.code, out: r.stdout, err: r.stderr };
}

/** curl run inside the server's namespace (where remote forwards listen). */
async function curlInside(
  s: Served,
  url: string,
): Promise<{ code: number; out: string; err: string }> {
  const r = await runProc("curl", ["-sS", "--max-time", "20", url], { netns: s.netns });
  return { code: r.code, out: r.stdout, err: r.stderr };
}

Deno.test(
  { name: "serve: OpenSSH ssh -N -L, -D and -R through warren serve", ignore },
  async (t) => {
    await using served = await startServe();
    await using origin = await startOrigin({ netns: served.netns });
    await using here = await startOrigin(); // this host's loopback, for -R
    const [web, echo, socks] = [freePort(), freePort(), freePort()];
    await using ssh = LiveProc.spawn("ssh", [
      "-N",
      "-v",
      ...["-L", `${web}:127.0.0.1:${origin.httpPort}`],
      ...["-L", `${echo}:127.0.0.1:${origin.echoPort}`],
      ...["-D", `127.0.0.1:${socks}`],
      ...["-R", `0:127.0.0.1:${here.httpPort}`],
      ...sshArgs(served),
    ]);
    const allocated = Number((await ssh.waitFor(/Allocated port (\d+) for remote forward/))[1]);

    await t.step("the origin is unreachable except through SSH", async () => {
      await assert.rejects(Deno.connect({ hostname: served.host, port: origin.httpPort }));
    });

    await t.step("-L carries HTTP and a 16 MiB download byte for byte", async () => {
      assert.equal((await curl([`http://127.0.0.1:${web}/hello`])).out, "hello from origin\n");
      const file = `${served.dir}/download.bin`;
      const r = await curl(["-o", file, `http://127.0.0.1:${web}/bytes/${16 * MiB}?seed=3`]);
      assert.equal(r.code, 0, r.err);
      assert.equal(Buffer.compare(await Deno.readFile(file), patternBytes(16 * MiB, 3)), 0);
    });

    await t.step("-L keeps half-close: the echo answers after our EOF", async () => {
      const data = testBytes(2 * MiB, 4);
      assert.deepEqual(await roundTrip(echo, data), data);
    });

    await t.step(
      "-D: curl through OpenSSH's SOCKS proxy, names resolved by warren serve",
      async () => {
        const r = await curl([
          "--socks5-hostname",
          `127.0.0.1:${socks}`,
          `http://localhost:${origin.httpPort}/hello`,
        ]);
        assert.equal(r.out, "hello from origin\n", r.err);
      },
    );

    await t.step("-R 0: warren serve picks a loopback port that leads back here", async () => {
      const r = await curlInside(served, `http://127.0.0.1:${allocated}/hello`);
      assert.equal(r.out, "hello from origin\n", r.err);
      // Loopback only (no --gateway-ports): not reachable on the namespace's address.
      await assert.rejects(Deno.connect({ hostname: served.host, port: allocated }));
    });

    await t.step("warren serve logged the connection, the key and each channel", async () => {
      // Each line is waited for: serve writes them before the traffic they describe, but
      // this process reads its output asynchronously.
      await served.cli.waitFor(/#1 connection from \S+ \(SSH-2\.0-OpenSSH/);
      await served.cli.waitFor(
        /#1 accepted publickey ssh-ed25519 SHA256:\S+ for \S+ \(\S+authorized_keys:2\)/,
      );
      await served.cli.waitFor(
        new RegExp(`#1 direct-tcpip \\S+ -> 127\\.0\\.0\\.1:${origin.httpPort}`),
      );
      await served.cli.waitFor(new RegExp(`#1 direct-tcpip \\S+ -> localhost:${origin.httpPort}`));
      await served.cli.waitFor(
        new RegExp(`#1 remote forward listening on 127\\.0\\.0\\.1:${allocated}`),
      );
      await served.cli.waitFor(/#1 forwarded connection \S+ -> localhost:\d+/);
    });

    assert.ok(ssh.running, ssh.output);
    await ssh.stop("SIGTERM");
    await served.cli.waitFor(/#1 closed after/);
    assert.equal(await served.stop(), 0, served.log());
    assert.match(served.log(), /Received SIGTERM: closing connections/);
  },
);

Deno.test({ name: "serve: keepalive@openssh.com requests are answered", ignore }, async () => {
  await using served = await startServe();
  await using ssh = LiveProc.spawn("ssh", [
    "-N",
    "-vvv",
    ...["-o", "ServerAliveInterval=1", "-o", "ServerAliveCountMax=1"],
    ...sshArgs(served),
  ]);
  // With CountMax=1 an unanswered probe ends ssh ("Timeout, server not
  // responding"); three answered ones (SSH_MSG_REQUEST_FAILURE, type 82, as
  // sshd answers) show the server replies.
  await ssh.waitFor(/(send packet: type 80\s+debug3: receive packet: type 82[\s\S]*){3}/);
  assert.doesNotMatch(ssh.output, /not responding/);
  assert.ok(ssh.running, ssh.output);
  await ssh.stop("SIGTERM");
});

Deno.test(
  { name: "serve: warren's client through warren serve (-L, socks/, -R 0)", ignore },
  async () => {
    await using served = await startServe();
    await using origin = await startOrigin({ netns: served.netns });
    await using here = await startOrigin();
    const [web, proxy] = [freePort(), freePort()];
    await using client = new LiveCli([
      ...["-L", `${web}:127.0.0.1:${origin.httpPort}`],
      ...["-L", `socks/${proxy}`],
      ...["-R", `0:127.0.0.1:${here.httpPort}`],
      ...warrenArgs(served),
    ]);
    const m = await client.waitFor(/the server assigned port (\d+)/);
    await client.waitFor(new RegExp(`Proxy tunnel -L socks/127\\.0\\.0\\.1:${proxy}`));
    await client.waitFor(new RegExp(`Local tunnel -L 127\\.0\\.0\\.1:${web}`));
    assert.equal((await curl([`http://127.0.0.1:${web}/hello`])).out, "hello from origin\n");
    const viaSocks = await curl([
      "-x",
      `socks5h://127.0.0.1:${proxy}`,
      `http://localhost:${origin.httpPort}/hello`,
    ]);
    assert.equal(viaSocks.out, "hello from origin\n", viaSocks.err);
    const viaHttp = await curl([
      "-x",
      `http://127.0.0.1:${proxy}`,
      `http://127.0.0.1:${origin.httpPort}/hello`,
    ]);
    assert.equal(viaHttp.out, "hello from origin\n", viaHttp.err);
    const data = testBytes(4 * MiB, 8);
    const file = `${served.dir}/up.bin`;
    await Deno.writeFile(file, data);
    const echoed = await curl([
      "--data-binary",
      `@${file}`,
      `http://127.0.0.1:${web}/echo`,
      "-o",
      `${file}.back`,
    ]);
    assert.equal(echoed.code, 0, echoed.err);
    assert.deepEqual(await Deno.readFile(`${file}.back`), data);
    assert.equal(
      (await curlInside(served, `http://127.0.0.1:${m[1]}/hello`)).out,
      "hello from origin\n",
    );
    assert.equal(await client.stop("SIGTERM"), 0, client.stderr);
    await served.cli.waitFor(/remote forward on localhost:\d+ cancelled/);
    assert.match(served.log(), /connection from \S+ \(SSH-2\.0-ssh2js/);
  },
);

// Rekeying mid-transfer (OpenSSH re-keys after RekeyLimit bytes; by default
// after 1-4 GiB), with ssh2's aes-ctr and warren's own AEAD ciphers. On a
// download OpenSSH checks its inbound limit only when it sends, so it re-keys
// about every 3 MB here rather than every 1 MiB, and a re-key it starts near
// the end may still be under way when curl finishes: 16 MiB gives six or seven,
// and the test asks for three completed ones.
for (const cipher of ["aes128-ctr", "chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com"]) {
  Deno.test({
    name:
      `serve: a 16 MiB download through ssh -c ${cipher} survives repeated re-keys (RekeyLimit 1M)`,
    ignore,
  }, async () => {
    await using served = await startServe();
    await using origin = await startOrigin({ netns: served.netns });
    const web = freePort();
    await using ssh = LiveProc.spawn("ssh", [
      "-N",
      "-v",
      ...["-c", cipher, "-o", "RekeyLimit=1M"],
      ...["-L", `${web}:127.0.0.1:${origin.httpPort}`],
      ...sshArgs(served),
    ]);
    await served.cli.waitFor(/#1 accepted publickey/);
    await waitListening(web);
    const file = `${served.dir}/rekeyed.bin`;
    const r = await curl(["-o", file, `http://127.0.0.1:${web}/bytes/${16 * MiB}?seed=6`]);
    assert.equal(r.code, 0, `${r.err}\n${served.log()}`);
    assert.equal(Buffer.compare(await Deno.readFile(file), patternBytes(16 * MiB, 6)), 0);
    // The first NEWKEYS is the initial key exchange; the rest are re-keys.
    const rekeys = (ssh.output.match(/SSH2_MSG_NEWKEYS received/g) ?? []).length - 1;
    assert.ok(rekeys >= 3, `${rekeys} re-keys\n${ssh.output}`);
  });
}

Deno.test(
  {
    name: "serve: on a 50 ms link serve's window for an upload grows past 2 MiB, bytes intact",
    ignore,
  },
  async () => {
    await using served = await startServe({ args: ["-v"] });
    await using origin = await startOrigin({ netns: served.netns });
    await using relay = startDelayRelay({ hostname: served.host, port: served.port }, 25);
    const key = (await Deno.readTextFile(served.knownHosts)).trim().split(" ").slice(1).join(" ");
    const knownHosts = `${served.dir}/known_hosts_relay`;
    await Deno.writeTextFile(knownHosts, `[127.0.0.1]:${relay.port} ${key}\n`);
    const port = freePort();
    await using client = new LiveCli([
      ...["-L", `${port}:127.0.0.1:${origin.echoPort}`],
      ...["-i", served.clientKey, "-o", `UserKnownHostsFile=${knownHosts}`],
      ...["--hostkey-policy=strict", "-B", `tester@127.0.0.1#${relay.port}`],
    ]);
    await client.waitFor(new RegExp(`Local tunnel -L 127\\.0\\.0\\.1:${port}`));
    const data = testBytes(48 * MiB + 1, 21);
    const back = await roundTrip(port, data);
    assert.equal(Buffer.compare(back, data), 0);
    // serve pings its client to measure the round trip, as warren's client does.
    const grown = await served.cli.waitFor(/window grown to (\d+) KiB/);
    assert.ok(Number(grown[1]) > 2048, grown[0]);
  },
);
