/**
 * Black-box tests of the warren command line: spawned as a user runs it, with
 * the exit code and the lines it prints checked. The SSH server is the
 * in-process ssh2 server (fast, and lets us break things on purpose).
 */
import assert from "node:assert/strict";
import { LiveCli, runCli } from "./_harness/cli.ts";
import { startTestServer, type TestServer } from "./_harness/ssh_server.ts";
import { freePort } from "./_harness/free_port.ts";
import { VERSION } from "../lib/version.ts";

function base(server: TestServer, ...extra: string[]): string[] {
  return [
    "-i",
    server.clientKey,
    "-o",
    `UserKnownHostsFile=${server.knownHosts}`,
    "--hostkey-policy=strict",
    "-p",
    `${server.port}`,
    ...extra,
  ];
}

/** A tiny HTTP origin in this process. */
function origin(): Deno.HttpServer<Deno.NetAddr> & { port: number } {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => new Response(`hello ${new URL(req.url).pathname}\n`),
  );
  return Object.assign(server, { port: server.addr.port });
}

function oneErrorLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trim().split("\n").filter((l) => !l.startsWith("Try 'warren --help'"));
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
  assert.match(lines[0], pattern);
  assert.ok(!/\bat .*\.ts:\d+/.test(stderr), `stack trace in:\n${stderr}`);
}

Deno.test("cli: --version and --help exit 0", async () => {
  const v = await runCli(["--version"]);
  assert.equal(v.code, 0);
  assert.match(v.stdout, new RegExp(`^warren ${VERSION.replaceAll(".", "\\.")} `));
  const h = await runCli(["--help"]);
  assert.equal(h.code, 0);
  for (
    const opt of [
      "-L",
      "-R",
      "-g",
      "--abort-on-failing-tunnel",
      "-S",
      "-f",
      "--one-shot",
      "-p",
      "-l",
      "-i",
      "-B",
      "-P",
      "-o",
      "--hostkey-policy",
      "-D",
      "-v",
      "-q",
      "-V",
      "-h",
    ]
  ) {
    assert.ok(h.stdout.includes(opt), `help lacks ${opt}`);
  }
});

Deno.test("cli: usage errors exit 2 with one line", async () => {
  const cases: [string[], RegExp][] = [
    [["-L", "8080:host", "h"], /^warren: Invalid -L '8080:host': expected/],
    [["--frobnicate", "h"], /^warren: Unknown option '--frobnicate'/],
    [["-o", "NoSuchOption=1", "h"], /^warren: Unknown -o option 'NoSuchOption'/],
    [["-R", "socks/1080:h:80", "h"], /^warren: Invalid -R 'socks\/1080:h:80': socks\/ takes only/],
    [["-D", "1080", "h"], /use -L socks\/1080/],
    [[], /^warren: Missing destination/],
    [["-J", "a,,b", "h"], /^warren: Invalid -J 'a,,b': empty jump host$/],
    [["-o", "ProxyJump=j:0", "h"], /^warren: Invalid -o ProxyJump='j:0': port 0 is out of range/],
    [
      ["-o", "ProxyCommand=nc %z", "h"],
      /^warren: Invalid -o ProxyCommand='nc %z': unknown token %z/,
    ],
    [["--proxy", "http://p", "h"], /^warren: Invalid --proxy 'http:\/\/p': missing port/],
    [
      ["-o", "ProxyUrl=gopher://p:70", "h"],
      /^warren: Invalid -o ProxyUrl='gopher:\/\/p:70': unknown scheme 'gopher'/,
    ],
    [
      ["--proxy", "http://al@p:1", "--proxy-password", "hunter2", "h"],
      /^warren: Invalid --proxy-password: use file:\/\/PATH, env:\/\/VAR or extprog:\/\/COMMAND/,
    ],
    [
      ["--proxy", "http://al@p:1", "h"],
      /^warren: --proxy with a user \(al\) needs --proxy-password/,
    ],
    [
      ["-o", "Compression=maybe", "h"],
      /^warren: Invalid -o Compression='maybe': expected yes or no$/,
    ],
  ];
  for (const [args, pattern] of cases) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    oneErrorLine(r.stderr, pattern);
    assert.match(r.stderr, /Try 'warren --help'/);
  }
});

Deno.test("cli: -F with a file that cannot be read, or a bad value in it, exits 2 with one line", async () => {
  const missing = await runCli(["-F", "/nonexistent/ssh_config", "h"]);
  assert.equal(missing.code, 2, missing.stderr);
  oneErrorLine(missing.stderr, /^warren: Cannot read \/nonexistent\/ssh_config: no such file$/);
  const file = await Deno.makeTempFile({ prefix: "warren-ssh-config-" });
  try {
    await Deno.writeTextFile(file, "Host h\n  ProxyJump a,,b\n");
    const bad = await runCli(["-F", file, "h"]);
    assert.equal(bad.code, 2, bad.stderr);
    oneErrorLine(bad.stderr, new RegExp(`^warren: ${file}:2: ProxyJump='a,,b': empty jump host$`));
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("cli: an unreachable server exits 1 with one line", async () => {
  const port = freePort();
  const r = await runCli(["-B", "-p", `${port}`, "127.0.0.1"]);
  assert.equal(r.code, 1);
  oneErrorLine(r.stderr, /^warren: Cannot connect to 127\.0\.0\.1:\d+: connection refused$/);
});

Deno.test("cli: a server that never speaks SSH times out after ConnectTimeout", async () => {
  using silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of silent) accepted.push(conn);
  })().catch(() => {});
  try {
    const r = await runCli([
      "-B",
      "-o",
      "ConnectTimeout=1",
      "-p",
      `${silent.addr.port}`,
      "127.0.0.1",
    ]);
    assert.equal(r.code, 1);
    oneErrorLine(r.stderr, /^warren: SSH handshake with 127\.0\.0\.1:\d+ timed out after 1 s$/);
  } finally {
    silent.close();
    await accepting;
    for (const c of accepted) c.close();
  }
});

Deno.test("cli: an authentication failure exits 1 naming the methods", async () => {
  await using server = await startTestServer({ acceptKey: false, password: "pw" });
  const r = await runCli(["-B", ...base(server), "127.0.0.1"]);
  assert.equal(r.code, 1);
  oneErrorLine(
    r.stderr,
    /^warren: Cannot authenticate as \S+ to 127\.0\.0\.1:\d+: tried no usable method; the server accepts password, keyboard-interactive$/,
  );
});

Deno.test("cli: a changed host key exits 1 before authentication", async () => {
  await using server = await startTestServer();
  const other = await startTestServer();
  const wrong = (await Deno.readTextFile(other.knownHosts)).replace(/\]:\d+/, `]:${server.port}`);
  await other.close();
  await Deno.writeTextFile(server.knownHosts, wrong);
  const r = await runCli(["-B", ...base(server), "127.0.0.1"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr.split("\n")[0], /^warren: Host key for 127\.0\.0\.1:\d+ has changed/);
  assert.match(r.stderr, /ssh-keygen -R/);
  assert.deepEqual(server.authAttempts, []);
});

Deno.test("cli: an unknown host key under ask without a terminal is refused", async () => {
  await using server = await startTestServer();
  await Deno.writeTextFile(server.knownHosts, "");
  const args = base(server, "127.0.0.1").filter((a) => a !== "--hostkey-policy=strict");
  const r = await runCli(args);
  assert.equal(r.code, 1);
  oneErrorLine(r.stderr, /^warren: Host key for 127\.0\.0\.1:\d+ is not known/);
  assert.deepEqual(server.authAttempts, []);
});

Deno.test("cli: tofu stores a new host key and connects", async () => {
  await using server = await startTestServer();
  const knownHosts = `${server.dir}/tofu_known_hosts`;
  const r = await runCli([
    "-i",
    server.clientKey,
    "-o",
    `UserKnownHostsFile=${knownHosts}`,
    "-o",
    "StrictHostKeyChecking=accept-new",
    "-p",
    `${server.port}`,
    "127.0.0.1",
    "--",
    "true",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const stored = await Deno.readTextFile(knownHosts);
  assert.match(stored, new RegExp(`^\\[127\\.0\\.0\\.1\\]:${server.port} ssh-ed25519 `));
});

Deno.test("cli: -- command uses the tunnel and its exit status is warren's", async () => {
  await using server = await startTestServer();
  await using web = origin();
  const port = freePort();
  const ok = await runCli([
    ...base(server, "-L", `${port}:127.0.0.1:${web.port}`, "127.0.0.1"),
    "--",
    "curl",
    "-sS",
    `http://127.0.0.1:${port}/through`,
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, "hello /through\n");
  const seven = await runCli([...base(server, "127.0.0.1"), "--", "sh", "-c", "exit 7"]);
  assert.equal(seven.code, 7);
  const missing = await runCli([...base(server, "127.0.0.1"), "--", "no-such-command-warren"]);
  assert.equal(missing.code, 127);
  assert.match(missing.stderr, /Cannot run 'no-such-command-warren': command not found/);
});

Deno.test("cli: a port in use is one error line; the other tunnels keep running", async () => {
  await using server = await startTestServer();
  await using web = origin();
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = freePort();
  await using cli = new LiveCli([
    ...base(server, "-L", `127.0.0.1:${taken.addr.port}:127.0.0.1:${web.port}`),
    ...["-L", `127.0.0.1:${port}:127.0.0.1:${web.port}`, "127.0.0.1"],
  ]);
  await cli.waitFor(new RegExp(`Local tunnel -L 127\\.0\\.0\\.1:${port}`));
  const res = await fetch(`http://127.0.0.1:${port}/second`, { headers: { connection: "close" } });
  assert.equal(await res.text(), "hello /second\n");
  assert.equal(await cli.stop(), 0, cli.stderr);
  const errors = cli.stderr.split("\n").filter((l) => l.includes("error:"));
  assert.equal(errors.length, 1, cli.stderr);
  assert.match(
    errors[0],
    new RegExp(`Cannot listen on 127\\.0\\.0\\.1:${taken.addr.port}: address already in use`),
  );
});

Deno.test("cli: --abort-on-failing-tunnel exits 1 naming address and port", async () => {
  await using server = await startTestServer();
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const r = await runCli([
    ...base(server, "--abort-on-failing-tunnel", "-L", `127.0.0.1:${taken.addr.port}:127.0.0.1:9`),
    "127.0.0.1",
    "--",
    "true",
  ]);
  assert.equal(r.code, 1);
  oneErrorLine(
    r.stderr,
    new RegExp(
      `^warren: Cannot listen on 127\\.0\\.0\\.1:${taken.addr.port}: address already in use$`,
    ),
  );
});

Deno.test("cli: SIGTERM and SIGINT close everything and exit 0", async () => {
  await using server = await startTestServer();
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    const port = freePort();
    await using cli = new LiveCli(base(server, "-L", `${port}:127.0.0.1:9`, "127.0.0.1"));
    await cli.waitFor(/Local tunnel -L 127\.0\.0\.1:\d+/);
    const started = performance.now();
    assert.equal(await cli.stop(signal), 0, cli.stderr);
    assert.ok(performance.now() - started < 2000 + 1000, "did not exit promptly");
    await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port }));
  }
});

Deno.test("cli: a dead connection (keepalive) exits 1 with a clear line", async () => {
  await using server = await startTestServer();
  await using cli = new LiveCli(
    base(server, "-o", "ServerAliveInterval=1", "-o", "ServerAliveCountMax=1", "127.0.0.1"),
  );
  await cli.waitFor(/^/);
  // Wait until authenticated (the server counts it), then stop answering.
  for (let i = 0; i < 100 && server.readyCount() === 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  server.freeze();
  assert.equal(await cli.exit(), 1);
  assert.match(cli.stderr, /error: Connection to 127\.0\.0\.1:\d+ lost: no reply to 1 keepalives/);
});

Deno.test("cli: --one-shot exits 0 after the first connection closes", async () => {
  await using server = await startTestServer();
  await using web = origin();
  const port = freePort();
  await using cli = new LiveCli(
    base(server, "-v", "--one-shot", "-L", `${port}:127.0.0.1:${web.port}`, "127.0.0.1"),
  );
  await cli.waitFor(/Local tunnel/);
  const res = await fetch(`http://127.0.0.1:${port}/once`, { headers: { connection: "close" } });
  assert.equal(await res.text(), "hello /once\n");
  assert.equal(await cli.exit(), 0, cli.stderr);
  assert.match(cli.stderr, /One-shot: 1 connection\(s\) served/);
  // -v: one line per connection with bytes each way and the duration.
  assert.match(
    cli.stderr,
    /debug: \[tunnel\] 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+ closed: \d+ bytes sent, \d+ received, \d+ ms/,
  );
});

Deno.test("cli: -f prints the PID, writes PidFile and keeps tunnelling in the background", async () => {
  await using server = await startTestServer();
  await using web = origin();
  const port = freePort();
  const pidFile = `${server.dir}/warren.pid`;
  const r = await runCli(
    base(
      server,
      "-f",
      "-o",
      `PidFile=${pidFile}`,
      "-L",
      `${port}:127.0.0.1:${web.port}`,
      "127.0.0.1",
    ),
  );
  assert.equal(r.code, 0, r.stderr);
  const pid = Number(r.stdout.trim());
  assert.ok(pid > 0, `no PID in ${JSON.stringify(r.stdout)}`);
  try {
    assert.equal((await Deno.readTextFile(pidFile)).trim(), `${pid}`);
    const res = await fetch(`http://127.0.0.1:${port}/bg`, { headers: { connection: "close" } });
    assert.equal(await res.text(), "hello /bg\n");
  } finally {
    Deno.kill(pid, "SIGTERM");
  }
  // The background process removes its PidFile when it stops.
  for (let i = 0; i < 100; i++) {
    if (!(await Deno.stat(pidFile).then(() => true, () => false))) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await assert.rejects(Deno.stat(pidFile));
});

Deno.test("cli: -f reports a failure in the foreground with exit 1", async () => {
  const port = freePort();
  const r = await runCli(["-f", "-B", "-p", `${port}`, "-L", "1:a:1", "127.0.0.1"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Cannot connect to 127\.0\.0\.1:\d+: connection refused/);
});

Deno.test("cli: a --proxy-auth password that cannot be read exits 2 before connecting", async () => {
  const port = freePort(); // nothing listens: connecting first would fail differently
  const missing = `/nonexistent-${crypto.randomUUID()}/pw`;
  for (
    const [source, line] of [
      [`file://${missing}`, `Cannot read the --proxy-auth password file ${missing}: no such file`],
      [
        "env://WARREN_TEST_UNSET_PW",
        "Cannot read the --proxy-auth password: $WARREN_TEST_UNSET_PW",
      ],
    ]
  ) {
    const r = await runCli([
      ...["-B", "-p", `${port}`, "-L", "socks/0", `--proxy-auth=bob:${source}`, "127.0.0.1"],
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.ok(r.stderr.includes(line), r.stderr);
    assert.doesNotMatch(r.stderr, /Cannot connect/);
  }
});
