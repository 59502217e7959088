/**
 * What `warren serve` refuses about who logs in and what they open, each seen
 * the way the client's user sees it: OpenSSH's ssh exit status and message,
 * warren's exit status and message, and the server's log. Also: a failing
 * peer ends only its own connection.
 *
 * Same setup as serve_test.ts (warren serve and the origins in a network
 * namespace); ignored with one line when root, iproute2 or ssh is missing.
 */
import assert from "node:assert/strict";
import { runCli } from "./_harness/cli.ts";
import { freePort } from "./_harness/free_port.ts";
import { LiveProc } from "./_harness/live_proc.ts";
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
  { name: "serve refuses passwords, unknown keys, shells, exec and subsystems", ignore },
  async (t) => {
    await using served = await startServe();

    await t.step("ssh with a password only: Permission denied (publickey), 255", async () => {
      const r = await ssh(
        served,
        [
          "-o",
          "PubkeyAuthentication=no",
          "-o",
          "PreferredAuthentications=password,keyboard-interactive",
        ],
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
      assert.match(
        r.stderr,
        /Cannot authenticate as tester to \S+: tried .*the server accepts publickey$/m,
      );
    });

    await t.step("a key not in authorized_keys: ssh 255, warren exit 1, logged", async () => {
      const r = await ssh(served, [], ["true"], served.otherKey);
      assert.equal(r.code, 255);
      assert.match(r.stderr, /Permission denied \(publickey\)/);
      const w = await runCli([...warrenArgs(served, served.otherKey), "--", "true"], {
        env: await emptyHome(served),
      });
      assert.equal(w.code, 1, w.stderr);
      assert.match(w.stderr, /Cannot authenticate as tester to \S+: tried publickey/);
      // ssh's refusal is logged in full; warren's, from the same address within 10 s, is
      // counted in a summary line (the log gate: a password guesser gets no line per attempt).
      await served.cli.waitFor(
        /refused publickey ssh-ed25519 SHA256:\S+ for \S+: the key is not in the authorized keys/,
      );
    });

    const prohibited =
      /open failed: administratively prohibited: warren serve forwards TCP ports only; it offers no sessions/;
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
      await served.cli.waitFor(/refused session channel: warren serve forwards TCP ports only/);
      const r = await runCli([...warrenArgs(served), "--", "true"], {
        env: await emptyHome(served),
      });
      assert.equal(r.code, 0, r.stderr);
    });
  },
);

Deno.test({ name: "serve: a failing peer ends its own connection only", ignore }, async () => {
  await using served = await startServe();
  await using origin = await startOrigin({ netns: served.netns });
  const [a, b] = [freePort(), freePort()];
  await using first = LiveProc.spawn("ssh", [
    "-N",
    "-L",
    `${a}:127.0.0.1:${origin.httpPort}`,
    ...sshArgs(served),
  ]);
  await served.cli.waitFor(/#1 accepted publickey/);
  await using second = LiveProc.spawn("ssh", [
    "-N",
    "-L",
    `${b}:127.0.0.1:${origin.httpPort}`,
    ...sshArgs(served),
  ]);
  await served.cli.waitFor(/#2 accepted publickey/);
  await waitListening(a);
  await waitListening(b);
  // A download through the first is cut by SIGKILL of its ssh mid-transfer.
  const download = curl(`http://127.0.0.1:${a}/bytes/${1 << 30}`, [
    "-o",
    "/dev/null",
    "--limit-rate",
    "1M",
  ]);
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
