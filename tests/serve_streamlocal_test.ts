/**
 * `warren serve --permit-streamlocal` against OpenSSH's ssh: `-L port:/path`
 * (direct-streamlocal) and `-R /path:host:port` (streamlocal-forward) for
 * permitted paths, byte for byte with half-close; a path outside the permit
 * refused with the reason in the log; the server's socket removed when the
 * client goes. Needs root, iproute2 and the OpenSSH client.
 */
import assert from "node:assert/strict";
import { freePort } from "./_harness/free_port.ts";
import { LiveProc } from "./_harness/live_proc.ts";
import { startOrigin } from "./_harness/origin.ts";
import { patternBytes } from "./_harness/pattern.ts";
import { serveTestsSkipReason, sshArgs, startServe, waitListening } from "./_harness/serve.ts";
import { skipWhen } from "./_harness/skip.ts";
import { tempDir } from "./_harness/temp_dir.ts";
import { echoRoundTrip, unixEcho } from "./_harness/unix_echo.ts";

const ignore = skipWhen("warren serve Unix socket tests", serveTestsSkipReason());

Deno.test({
  name: "serve: ssh -L port:/path.sock and -R /path.sock:host:port under --permit-streamlocal",
  ignore,
  async fn() {
    await using dir = await tempDir("warren-serve-unix-");
    const d = dir.path;
    await using served = await startServe({ args: ["--permit-streamlocal", `${d}/ok-*.sock`] });
    await using here = await startOrigin();
    await using _echo = unixEcho(`${d}/ok-echo.sock`);
    const [port, refusedPort] = [freePort(), freePort()];
    await using ssh = LiveProc.spawn("ssh", [
      "-N",
      ...["-o", "ExitOnForwardFailure=no"],
      ...["-L", `${port}:${d}/ok-echo.sock`],
      ...["-L", `${refusedPort}:${d}/other.sock`],
      ...["-R", `${d}/ok-back.sock:127.0.0.1:${here.echoPort}`],
      ...sshArgs(served),
    ]);
    await waitListening(port);
    const data = patternBytes(1024 * 1024, 5);
    const a = await echoRoundTrip(await Deno.connect({ hostname: "127.0.0.1", port }), data);
    assert.equal(a.length, data.length);
    assert.ok(a.every((b, i) => b === data[i]), "-L port:/path: bytes differ");

    await served.cli.waitFor(/remote forward on \S+ok-back\.sock/);
    const info = await Deno.lstat(`${d}/ok-back.sock`);
    assert.equal(info.mode! & 0o777, 0o600);
    const b = await echoRoundTrip(
      await Deno.connect({ transport: "unix", path: `${d}/ok-back.sock` }),
      data,
    );
    assert.equal(b.length, data.length);
    assert.ok(b.every((x, i) => x === data[i]), "-R /path: bytes differ");

    // Outside the permit: ssh's channel is refused with the reason.
    const c = await Deno.connect({ hostname: "127.0.0.1", port: refusedPort });
    assert.equal(await c.read(new Uint8Array(16)), null);
    c.close();
    await served.cli.waitFor(
      /refused direct-streamlocal to \S+other\.sock: .*--permit-streamlocal/,
    );

    await ssh.stop("SIGTERM");
    await served.cli.waitFor(/remote forward on \S+ok-back\.sock cancelled/);
    assert.ok(!(await Deno.lstat(`${d}/ok-back.sock`).then(() => true, () => false)));
  },
});
