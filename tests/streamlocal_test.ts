/**
 * Unix domain socket tunnels, OpenSSH's four forms, as a user runs warren,
 * against OpenSSH sshd in a network namespace:
 *
 *   -L /here.sock:localhost:ECHO     a socket here; sshd connects its loopback
 *   -L PORT:/there.sock              TCP here; sshd connects a socket (direct-streamlocal)
 *   -R /server.sock:127.0.0.1:ECHO   sshd listens on a socket (streamlocal-forward)
 *   -R 0:/here2.sock                 sshd listens on TCP; warren connects a socket here
 *
 * Each carries 1 MiB each way through an echo server, byte for byte, with
 * half-close (the client's EOF comes back as the echo's EOF after the last
 * byte). A socket warren creates is mode 0600 and gone after warren exits;
 * a stale socket is replaced; a regular file, or a socket someone listens
 * on, is refused in one line.
 *
 * Needs root, iproute2 and openssh-server; otherwise ignored with one line.
 */
import assert from "node:assert/strict";
import { LiveCli, runCli } from "./_harness/cli.ts";
import { freePort } from "./_harness/free_port.ts";
import { startOrigin } from "./_harness/origin.ts";
import { patternBytes } from "./_harness/pattern.ts";
import { realPeersUnsupported, warrenArgs } from "./_harness/real_peers.ts";
import { startSshd } from "./_harness/sshd.ts";
import { skipWhen } from "./_harness/skip.ts";
import { tempDir } from "./_harness/temp_dir.ts";
import { echoRoundTrip, unixEcho } from "./_harness/unix_echo.ts";

const ignore = skipWhen("Unix socket tunnel tests", realPeersUnsupported());
const SIZE = 1024 * 1024;

function assertSame(got: Uint8Array, want: Uint8Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  const at = got.findIndex((b, i) => b !== want[i]);
  assert.equal(at, -1, `${what}: first difference at byte ${at}`);
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

Deno.test({
  name: "cli: -L and -R with Unix sockets, all four forms, against sshd",
  ignore,
  async fn() {
    await using sshd = await startSshd();
    await using far = await startOrigin({ netns: sshd.netns });
    await using here = await startOrigin();
    await using dir = await tempDir("warren-unix-");
    const d = dir.path;
    // The namespace shares this filesystem: sshd connects and creates paths here too.
    await using _there = unixEcho(`${d}/there.sock`);
    await using _here2 = unixEcho(`${d}/here2.sock`);
    const port = freePort();
    await using cli = new LiveCli(warrenArgs(
      sshd,
      "-v",
      ...["-L", `${d}/here.sock:localhost:${far.echoPort}`],
      ...["-L", `127.0.0.1:${port}:${d}/there.sock`],
      ...["-R", `${d}/server.sock:127.0.0.1:${here.echoPort}`],
      ...["-R", `0:${d}/here2.sock`],
    ));
    const m = await cli.waitFor(/the server assigned port (\d+)/);
    await cli.waitFor(/Remote tunnel -R \S+server\.sock \(on the server\)/);
    await cli.waitFor(/Local tunnel -L \S+here\.sock -> localhost:/);
    await cli.waitFor(/Local tunnel -L 127\.0\.0\.1:\d+ -> \S+there\.sock \(on the server\)/);

    const info = await Deno.lstat(`${d}/here.sock`);
    assert.ok(info.isSocket);
    assert.equal(info.mode! & 0o777, 0o600, `mode ${(info.mode! & 0o777).toString(8)}`);

    const data = patternBytes(SIZE, 7);
    // 1. A socket here -> sshd -> TCP echo in the namespace.
    const a = await echoRoundTrip(
      await Deno.connect({ transport: "unix", path: `${d}/here.sock` }),
      data,
    );
    assertSame(a, data, "-L /here.sock:localhost:echo");
    // 2. TCP here -> sshd (direct-streamlocal) -> a socket echo.
    const b = await echoRoundTrip(await Deno.connect({ hostname: "127.0.0.1", port }), data);
    assertSame(b, data, "-L port:/there.sock");
    // 3. sshd's socket (streamlocal-forward) -> warren -> TCP echo here.
    const c = await echoRoundTrip(
      await Deno.connect({ transport: "unix", path: `${d}/server.sock` }),
      data,
    );
    assertSame(c, data, "-R /server.sock:127.0.0.1:echo");
    // 4. TCP in the namespace -> sshd -> warren -> a socket echo here.
    const client = `
      const c = await Deno.connect({ hostname: "127.0.0.1", port: ${m[1]} });
      const data = new Uint8Array(${SIZE}).map((_, i) => (i * 7919 + (i >> 11)) & 255);
      const w = (async () => {
        for (let o = 0; o < data.length;) o += await c.write(data.subarray(o));
        await c.closeWrite();
      })();
      const buf = new Uint8Array(65536);
      let n, total = 0, bad = -1;
      while ((n = await c.read(buf)) !== null) {
        for (let i = 0; i < n; i++) if (bad < 0 && buf[i] !== data[total + i]) bad = total + i;
        total += n;
      }
      await w;
      console.log(JSON.stringify({ total, bad }));`;
    const out = await sshd.netns.command(Deno.execPath(), ["eval", client], {
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    assert.equal(out.code, 0, dec.decode(out.stderr));
    assert.deepEqual(JSON.parse(dec.decode(out.stdout)), { total: SIZE, bad: -1 });

    assert.equal(await cli.stop("SIGTERM"), 0, cli.stderr);
    assert.ok(!(await exists(`${d}/here.sock`)), "warren left its socket behind");
    const left = (await Array.fromAsync(Deno.readDir(d))).map((e) => e.name);
    assert.deepEqual(left.filter((n) => n.startsWith(".w")), [], "a bind directory was left");
    const log = await sshd.log();
    assert.match(log, /direct-streamlocal/);
    assert.match(log, /streamlocal-forward@openssh\.com/);
  },
});

Deno.test({
  name: "cli: a stale socket is replaced; a file or a live socket at the path is one error line",
  ignore,
  async fn() {
    await using sshd = await startSshd();
    await using far = await startOrigin({ netns: sshd.netns });
    await using dir = await tempDir("warren-unix-");
    const path = `${dir.path}/l.sock`;
    const tunnel = (...extra: string[]) =>
      warrenArgs(
        sshd,
        "--abort-on-failing-tunnel",
        ...["-L", `${path}:localhost:${far.echoPort}`],
        ...extra,
      );

    // A stale socket: its process was killed, the file stayed.
    const holder = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `const l = Deno.listen({ transport: "unix", path: ${JSON.stringify(path)} });` +
        'console.log("up"); await l.accept();',
      ],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = holder.stdout.getReader();
    assert.match(new TextDecoder().decode((await reader.read()).value), /up/);
    holder.kill("SIGKILL");
    await holder.status;
    reader.releaseLock();
    await holder.stdout.cancel();
    assert.ok((await Deno.lstat(path)).isSocket, "no stale socket to test with");
    {
      await using cli = new LiveCli(tunnel("-v"));
      await cli.waitFor(/Local tunnel -L \S+l\.sock/);
      const data = patternBytes(64 * 1024, 3);
      const got = await echoRoundTrip(await Deno.connect({ transport: "unix", path }), data);
      assertSame(got, data, "through the replaced socket");
      assert.equal(await cli.stop("SIGTERM"), 0, cli.stderr);
      assert.match(cli.stderr, /Removed the stale socket/);
    }
    assert.ok(!(await exists(path)));

    // A regular file is never removed.
    await Deno.writeTextFile(path, "keep me\n");
    const file = await runCli([...tunnel(), "--", "true"]);
    assert.equal(file.code, 1, file.stderr);
    assert.match(
      file.stderr,
      /Cannot listen on \S+l\.sock: the file exists and is not a socket\n$/,
    );
    assert.equal(await Deno.readTextFile(path), "keep me\n");
    await Deno.remove(path);

    // A socket someone listens on.
    const live = Deno.listen({ transport: "unix", path });
    try {
      const r = await runCli([...tunnel(), "--", "true"]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /Cannot listen on \S+l\.sock: another process listens on this socket/);
    } finally {
      live.close();
    }
  },
});

Deno.test("cli: Unix socket forms are usage errors where they do not fit (exit 2)", async () => {
  const cases: [string[], RegExp][] = [
    [
      ["-L", "ftp//a.sock:h:21", "h"],
      /^warren: Invalid -L 'ftp\/\/a\.sock:h:21': .*tcp tunnels only/,
    ],
    [["-L", "/a.sock", "h"], /^warren: Invalid -L '\/a\.sock': expected/],
    [
      ["-R", "1:/a.sock:80", "h"],
      /^warren: Invalid -R '1:\/a\.sock:80': a socket path is not a host/,
    ],
  ];
  for (const [args, pattern] of cases) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
  }
});
