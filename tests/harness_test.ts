/**
 * Tests of the real-peer harness itself (tests/_harness/), driven only by real
 * OpenSSH and curl: sshd in a namespace accepts the ssh client, the origin in
 * the namespace is unreachable from the host but reachable through `ssh -L`,
 * big downloads arrive byte for byte, and the echo server half-closes.
 *
 * Needs root and iproute2/openssh; otherwise the tests are ignored and one
 * line on stderr says why.
 */

import assert from "node:assert/strict";
import { freePort, waitForPort } from "./_harness/free_port.ts";
import { startOrigin } from "./_harness/origin.ts";
import { Pattern, patternBytes } from "./_harness/pattern.ts";
import { type Sshd, sshdSupport, startSshd } from "./_harness/sshd.ts";
import { skipWhen, unsupportedBy } from "./_harness/skip.ts";
import { concat } from "../lib/net/io.ts";

const support = sshdSupport();
const ignore = skipWhen("real-peer tests", unsupportedBy(support));
const MiB = 1024 * 1024;

/** Options for the real ssh client: only our key and known_hosts, no prompts. */
function sshArgs(sshd: Sshd, extra: string[], command: string[] = []): string[] {
  return [
    "-F",
    "/dev/null",
    "-i",
    sshd.clientKey,
    ...[
      `UserKnownHostsFile=${sshd.knownHosts}`,
      "GlobalKnownHostsFile=/dev/null",
      "StrictHostKeyChecking=yes",
      "BatchMode=yes",
      "IdentitiesOnly=yes",
      "IdentityAgent=none",
      "ConnectTimeout=10",
    ].flatMap((o) => ["-o", o]),
    "-p",
    `${sshd.port}`,
    ...extra,
    `${sshd.user}@${sshd.host}`,
    ...command,
  ];
}

type RunResult = { code: number; stdout: string; stderr: string };

/** Run a command to completion, killing it after `timeoutMs`. */
async function run(
  cmd: string,
  args: string[],
  timeoutMs = 30_000,
): Promise<RunResult> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    return {
      code: out.code,
      stdout: dec.decode(out.stdout),
      stderr: dec.decode(out.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** `curl` with no proxy from the environment and a hard time limit. */
function curl(...args: string[]): Promise<RunResult> {
  return run("curl", ["-sS", "--fail", "--noproxy", "*", "-m", "60", ...args]);
}

/** `ssh -N -L 127.0.0.1:<free>:<target>:<targetPort>`, ready to use. */
async function forward(
  sshd: Sshd,
  target: string,
  targetPort: number,
): Promise<{ port: number } & AsyncDisposable> {
  const port = freePort();
  const spec = `127.0.0.1:${port}:${target}:${targetPort}`;
  const child = new Deno.Command("ssh", {
    args: sshArgs(sshd, ["-N", "-o", "ExitOnForwardFailure=yes", "-L", spec]),
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* exited */ }
    await child.status;
  };
  try {
    await Promise.race([
      waitForPort("127.0.0.1", port, 10_000),
      child.status.then((s) => {
        throw new Error(`ssh -L ${spec} exited with ${s.code}`);
      }),
    ]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, [Symbol.asyncDispose]: stop };
}

/** Reject with a clear message if `p` does not settle in `ms`. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test({
  name: "startSshd() lets the real ssh client log in with the plain key",
  ignore,
  async fn() {
    await using sshd = await startSshd();
    const login = await run("ssh", sshArgs(sshd, [], ["true"]));
    assert.equal(login.code, 0, login.stderr);
    assert.match(await sshd.log(), /Accepted publickey for /);

    // The encrypted key opens with the passphrase and matches what is authorized.
    const pub = await run("ssh-keygen", [
      "-y",
      "-P",
      sshd.passphrase,
      "-f",
      sshd.clientKeyEncrypted,
    ]);
    assert.equal(pub.code, 0, pub.stderr);
    const authorized = await Deno.readTextFile(`${sshd.dir}/authorized_keys`);
    assert.ok(authorized.includes(pub.stdout.trim().split(" ")[1]));

    // known_hosts and the fingerprint describe the same host key.
    const fp = await run("ssh-keygen", ["-l", "-f", sshd.knownHosts]);
    assert.ok(fp.stdout.includes(sshd.hostKeyFingerprint), fp.stdout);
    assert.ok(sshd.hostKeyLine.startsWith(`[${sshd.host}]:${sshd.port} `));

    // restart() keeps address, port and keys.
    await sshd.restart();
    const again = await run("ssh", sshArgs(sshd, [], ["true"]));
    assert.equal(again.code, 0, again.stderr);
  },
});

Deno.test({
  name: "startOrigin() in the namespace is unreachable from the host",
  ignore,
  async fn() {
    await using sshd = await startSshd();
    await using origin = await startOrigin({ netns: sshd.netns });
    for (const port of [origin.httpPort, origin.echoPort]) {
      await assert.rejects(
        Deno.connect({ hostname: sshd.netns.nsAddr, port }),
        Deno.errors.ConnectionRefused,
      );
    }
  },
});

Deno.test({
  name: "ssh -L reaches the origin: hello, echo, 64 MiB byte for byte",
  ignore,
  async fn() {
    await using sshd = await startSshd();
    await using origin = await startOrigin({ netns: sshd.netns });
    await using fwd = await forward(sshd, "127.0.0.1", origin.httpPort);
    const base = `http://127.0.0.1:${fwd.port}`;

    const hello = await curl(`${base}/hello`);
    assert.equal(hello.stdout, "hello from origin\n", hello.stderr);

    if (origin.ipv6) {
      await using fwd6 = await forward(sshd, "[::1]", origin.httpPort);
      const hello6 = await curl(`http://127.0.0.1:${fwd6.port}/hello`);
      assert.equal(hello6.stdout, "hello from origin\n", hello6.stderr);
    }

    const body = `${sshd.dir}/body.bin`;
    const sent = patternBytes(MiB, 7);
    await Deno.writeFile(body, sent);
    const echoed = `${sshd.dir}/echoed.bin`;
    const post = await curl("--data-binary", `@${body}`, "-o", echoed, `${base}/echo`);
    assert.equal(post.code, 0, post.stderr);
    assert.deepEqual(await Deno.readFile(echoed), sent);

    // 64 MiB, checked as it streams so memory stays small.
    const size = 64 * MiB;
    const child = new Deno.Command("curl", {
      args: ["-sS", "--fail", "--noproxy", "*", "-m", "120", `${base}/bytes/${size}`],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    const pattern = new Pattern(1);
    let got = 0;
    let mismatch = -1;
    for await (const chunk of child.stdout) {
      const want = pattern.fill(new Uint8Array(chunk.length));
      for (let i = 0; mismatch < 0 && i < chunk.length; i++) {
        if (chunk[i] !== want[i]) mismatch = got + i;
      }
      got += chunk.length;
    }
    const status = await child.status;
    clearTimeout(timer);
    assert.equal(status.code, 0, "curl failed");
    assert.equal(got, size);
    assert.equal(mismatch, -1, `first wrong byte at offset ${mismatch}`);
  },
});

Deno.test({
  name: "echo server finishes echoing and half-closes through ssh -L",
  ignore,
  async fn() {
    await using sshd = await startSshd();
    await using origin = await startOrigin({ netns: sshd.netns });
    await using fwd = await forward(sshd, "localhost", origin.echoPort);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: fwd.port });
    try {
      const sent = patternBytes(64 * 1024, 3);
      for (let off = 0; off < sent.length;) {
        off += await conn.write(sent.subarray(off));
      }
      // Half-close first, only then read: the echo must still come back.
      await conn.closeWrite();
      const received = await within(readAll(conn), 15_000, "echo to EOF");
      assert.deepEqual(received, sent);
    } finally {
      conn.close();
    }
  },
});

/** Read `conn` until EOF with read() (keeps half-close intact). */
async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const buf = new Uint8Array(64 * 1024);
  for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
    parts.push(buf.slice(0, n));
  }
  return concat(parts);
}
