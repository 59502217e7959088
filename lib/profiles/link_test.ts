import assert from "node:assert/strict";
import type { Duplex } from "node:stream";
import type { ProfileConfig } from "../config/tectia/model.ts";
import { WarrenError } from "../errors.ts";
import { connectSsh, type SshConnection } from "../ssh/connection.ts";
import { startTestServer, type TestServer } from "../../tests/_harness/ssh_server.ts";
import { startEchoServer } from "../../tests/_harness/local_servers.ts";
import { sshOptions } from "../../tests/_harness/real_peers.ts";
import { Backoff } from "./backoff.ts";
import { ProfileLink } from "./link.ts";
import { Traffic } from "./traffic.ts";

function profile(id: string, port: number, gateway?: string): ProfileConfig {
  return {
    id,
    host: "127.0.0.1",
    port,
    connectOnStartup: false,
    ...(gateway ? { gatewayProfile: gateway } : {}),
    identityFiles: [],
    settings: {
      keepaliveInterval: 0,
      tcpConnectTimeout: 10,
      idleTimeout: 300,
      hostKeyPolicy: "strict",
      authMethods: ["publickey"],
      ciphers: [],
      macs: [],
      kexs: [],
      hostKeyAlgorithms: [],
    },
    tunnels: [],
    source: { file: "test.xml", line: 1, col: 1 },
  };
}

let ids = 0;
function link(
  server: TestServer,
  options: { idleMs?: number; backoff?: Backoff; gateway?: () => ProfileLink; id?: string } = {},
): ProfileLink & { connects: number } {
  const l = new ProfileLink(profile(options.id ?? "p", server.port), {
    connect: (sock?: Duplex): Promise<SshConnection> => {
      l.connects++;
      return connectSsh({ ...sshOptions(server), ...(sock ? { sock } : {}) });
    },
    gateway: options.gateway,
    idleTimeoutMs: options.idleMs ?? 300_000,
    nextId: () => ++ids,
    backoff: options.backoff,
  }) as ProfileLink & { connects: number };
  l.connects = 0;
  return l;
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; !cond(); i++) {
    if (i > 2000) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function echoOnce(ch: Duplex, text: string): Promise<string> {
  const got = new Promise<string>((resolve) =>
    ch.once("data", (d: Uint8Array) => resolve(new TextDecoder().decode(d)))
  );
  ch.write(text);
  const reply = await got;
  return reply;
}

async function closeChannel(ch: Duplex): Promise<void> {
  const closed = new Promise((r) => ch.once("close", r));
  ch.end();
  ch.resume();
  await closed;
}

Deno.test("ProfileLink connects on the first channel and shares the connection", async () => {
  await using server = await startTestServer();
  await using echo = startEchoServer();
  const l = link(server);
  assert.equal(server.readyCount(), 0);
  assert.deepEqual(l.sessions(), []);
  const counted = new Traffic();
  const [a, b] = await Promise.all([
    l.openDirect("127.0.0.1", 1, "127.0.0.1", echo.port, [counted]),
    l.openDirect("127.0.0.1", 2, "127.0.0.1", echo.port),
  ]);
  assert.equal(server.readyCount(), 1);
  assert.equal(l.connects, 1);
  const [s] = l.sessions();
  assert.equal(s.channels, 2);
  assert.equal(s.state, "connected");
  assert.equal(await echoOnce(a, "hello"), "hello");
  assert.deepEqual([counted.sent, counted.received], [5, 5]);
  assert.deepEqual([l.sessions()[0].sent, l.sessions()[0].received], [5, 5]);
  await closeChannel(a);
  await closeChannel(b);
  await until(() => l.sessions()[0].channels === 0, "channels to close");
  await l.stop();
  assert.ok(l.finished);
});

Deno.test("ProfileLink closes after idle-timeout and opens again on demand", async () => {
  await using server = await startTestServer();
  await using echo = startEchoServer();
  const l = link(server, { idleMs: 20 });
  await closeChannel(await l.openDirect("127.0.0.1", 1, "127.0.0.1", echo.port));
  await until(() => l.finished, "the idle close");
  assert.equal(server.readyCount(), 1);
  const ch = await l.openDirect("127.0.0.1", 1, "127.0.0.1", echo.port);
  assert.equal(server.readyCount(), 2);
  assert.equal(await echoOnce(ch, "again"), "again");
  await closeChannel(ch);
  await l.stop();
});

Deno.test("ProfileLink: a channel open slower than idle-timeout keeps its connection", async () => {
  // The server takes 150 ms to connect the destination; idle-timeout is 20 ms.
  await using server = await startTestServer({ delayDirectMs: 150 });
  await using echo = startEchoServer();
  const l = link(server, { idleMs: 20 });
  const ch = await l.openDirect("127.0.0.1", 1, "127.0.0.1", echo.port);
  assert.equal(await echoOnce(ch, "slow"), "slow");
  assert.equal(server.readyCount(), 1, "the same connection throughout");
  await closeChannel(ch);
  await until(() => l.finished, "the idle close after the channel");
  await l.stop();
});

Deno.test("ProfileLink reconnects for the next channel after the connection drops", async () => {
  await using server = await startTestServer();
  await using echo = startEchoServer();
  const l = link(server);
  const first = await l.openDirect("127.0.0.1", 1, "127.0.0.1", echo.port);
  const closed = new Promise((r) => first.once("close", r));
  first.resume();
  server.dropAll();
  await closed;
  const ch = await l.openDirect("127.0.0.1", 1, "127.0.0.1", echo.port);
  assert.equal(server.readyCount(), 2);
  assert.equal(await echoOnce(ch, "back"), "back");
  await closeChannel(ch);
  await l.stop();
});

Deno.test("ProfileLink backs off after repeated failures and turns clients away meanwhile", async () => {
  await using server = await startTestServer({ acceptKey: false });
  let now = 1_000_000;
  const backoff = new Backoff({ baseMs: 1000, capMs: 8000, now: () => now, random: () => 0 });
  const l = link(server, { backoff });
  await assert.rejects(l.openDirect("127.0.0.1", 1, "127.0.0.1", 9), /Cannot authenticate/);
  await assert.rejects(l.openDirect("127.0.0.1", 1, "127.0.0.1", 9), /Cannot authenticate/);
  assert.equal(l.connects, 2, "the first failure costs nothing");
  await assert.rejects(
    l.openDirect("127.0.0.1", 1, "127.0.0.1", 9),
    (err: Error) =>
      err instanceof WarrenError &&
      /^Not connecting to 127\.0\.0\.1:\d+ \(profile 'p'\) for another 1 s after 2 failures \(last: Cannot authenticate/
        .test(err.message),
  );
  assert.equal(l.connects, 2, "no attempt during the wait");
  now += 500;
  await assert.rejects(l.openDirect("127.0.0.1", 1, "127.0.0.1", 9), /Cannot authenticate/);
  assert.equal(l.connects, 3);
  await l.stop();
});

Deno.test("ProfileLink held: connects without a client, reconnects after a drop", async () => {
  await using server = await startTestServer();
  const l = link(server);
  const seen: number[] = [];
  const unsubscribe = l.onConnected((s) => seen.push(s.id));
  const release = l.hold();
  await until(() => seen.length === 1, "the first connection");
  server.dropAll();
  await until(() => seen.length === 2, "the reconnection");
  assert.equal(server.readyCount(), 2);
  assert.notEqual(seen[0], seen[1]);
  unsubscribe();
  release();
  await l.stop();
});

Deno.test("ProfileLink through a gateway: the gateway's channel carries it and keeps it up", async () => {
  await using server = await startTestServer();
  await using echo = startEchoServer();
  const gateway = link(server, { id: "gw", idleMs: 10 });
  const inner = link(server, { id: "inner", idleMs: 10, gateway: () => gateway });
  const ch = await inner.openDirect("127.0.0.1", 1, "127.0.0.1", echo.port);
  assert.equal(server.readyCount(), 2);
  assert.equal(gateway.sessions()[0].channels, 1, "the jump channel");
  assert.equal(inner.sessions()[0].channels, 1);
  assert.equal(await echoOnce(ch, "via"), "via");
  assert.ok(gateway.sessions()[0].sent > 3, "the inner connection's bytes cross the gateway");
  await closeChannel(ch);
  await until(() => inner.finished, "the inner idle close");
  await until(() => gateway.finished, "the gateway's idle close, after the inner one");
  await inner.stop();
  await gateway.stop();
});

Deno.test("ProfileLink retire: no new connections; the current one closes when idle", async () => {
  await using server = await startTestServer();
  await using echo = startEchoServer();
  const l = link(server);
  const ch = await l.openDirect("127.0.0.1", 1, "127.0.0.1", echo.port);
  l.retire();
  await assert.rejects(l.openDirect("127.0.0.1", 1, "127.0.0.1", echo.port), /being replaced/);
  assert.equal(await echoOnce(ch, "still"), "still", "the live channel goes on");
  assert.equal(l.sessions().length, 1);
  await closeChannel(ch);
  await until(() => l.finished, "the retired connection to close");
  await l.stop();
});
