import assert from "node:assert/strict";
import { connectSsh } from "./connection.ts";
import { LinkHealth, probe } from "./health.ts";
import { WarrenError } from "../errors.ts";
import { startTestServer } from "../../tests/_harness/ssh_server.ts";
import { sshOptions } from "../../tests/_harness/real_peers.ts";
import { startEchoServer } from "../../tests/_harness/local_servers.ts";
import { setLogWriter, setupLogging } from "../log.ts";

const lines: string[] = [];
setLogWriter((line) => lines.push(line));
setupLogging("debug");

const FAST = { suspectAfterMs: 300, probeIntervalMs: 200, probes: 3 };

Deno.test("probe() sends a keepalive@openssh.com request and hears the answer (ssh2 internals)", async () => {
  await using server = await startTestServer();
  await using ssh = await connectSsh(sshOptions(server));
  const answered = await new Promise<boolean>((resolve) => {
    assert.ok(probe(ssh.client, resolve), "ssh2's _callbacks/_protocol.ping() are gone");
  });
  assert.equal(answered, true);
});

Deno.test("a channel open to a silent server: suspect, probed, declared dead; the open fails", async () => {
  await using server = await startTestServer();
  await using echo = startEchoServer();
  const ssh = await connectSsh(sshOptions(server, { health: FAST }));
  server.freeze();
  const opening = ssh.openDirect("127.0.0.1", 1, "127.0.0.1", echo.port);
  let sawSuspect = false;
  const watcher = setInterval(() => sawSuspect ||= ssh.health === "suspect", 20);
  try {
    await assert.rejects(opening);
    const err = await ssh.closed;
    assert.ok(err instanceof WarrenError);
    assert.match(
      err.message,
      /lost: no answer to 3 probes in 0\.6 s after a channel open went unanswered for 0\.3 s/,
    );
    assert.ok(sawSuspect, "the connection was suspect while probing");
  } finally {
    clearInterval(watcher);
    await ssh.close();
  }
});

Deno.test("a slow destination: the probe is answered, the connection stays and the open completes", async () => {
  await using server = await startTestServer({ delayDirectMs: 1_000 });
  await using echo = startEchoServer();
  await using ssh = await connectSsh(sshOptions(server, { health: FAST }));
  lines.length = 0;
  const channel = await ssh.openDirect("127.0.0.1", 1, "127.0.0.1", echo.port);
  channel.destroy();
  assert.equal(ssh.health, "connected");
  const said = lines.join("");
  assert.match(said, /channel open unanswered for 0\.3 s: probing/);
  assert.match(said, /Connection to 127\.0\.0\.1:\d+ answered/);
});

Deno.test("one timer for every request waiting: each is suspect only past its own deadline", async () => {
  // A stand-in for ssh2's Client: probe() needs _protocol.ping and _callbacks.
  let pings = 0;
  const client = { _protocol: { ping: () => pings++ }, _callbacks: [] as unknown[] };
  const timing = { suspectAfterMs: 400, probeIntervalMs: 10_000, probes: 1 };
  const health = new LinkHealth(client as never, undefined, "test", () => {}, timing);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  try {
    const first = health.watch("first");
    await sleep(200);
    const second = health.watch("second");
    first();
    // The first request's deadline passes with only the second waiting, not yet due.
    await sleep(300);
    assert.equal(health.state, "connected");
    assert.equal(pings, 0);
    // Past the second's deadline: suspect, and probed.
    for (let i = 0; i < 250 && pings === 0; i++) await sleep(20);
    assert.equal(health.state, "suspect");
    assert.equal(pings, 1);
    second();
    // Answered requests leave nothing to fire on.
    const third = health.watch("third");
    third();
  } finally {
    health.close();
  }
});
