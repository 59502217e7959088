/**
 * WarrenServer in-process, driven by ssh2's Client and warren's own
 * connection code: what the real-peer tests cannot force (a client that
 * really sends a password, more failures than allowed, a silent socket),
 * half-close both ways, cancel-tcpip-forward, and a clean close().
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { setLogWriter, setupLogging } from "../log.ts";
import { connectSsh } from "../ssh/connection.ts";
import { sshOptions } from "../../tests/_harness/real_peers.ts";
import { Client } from "../ssh/ssh2.ts";
import { loadHostKey } from "./host_key.ts";
import { generateEd25519, type KeyPair } from "./keygen.ts";
import { type ServeOptions, WarrenServer } from "./server.ts";
import { parseStartups } from "./startups.ts";
import { startEchoServer } from "../../tests/_harness/local_servers.ts";

interface Rig extends AsyncDisposable {
  server: WarrenServer;
  port: number;
  dir: string;
  client: KeyPair;
  keyFile: string;
  knownHosts: string;
  log: string[];
  waitLog(pattern: RegExp): Promise<void>;
}

async function rig(opts: Partial<ServeOptions> = {}, keyOptions = ""): Promise<Rig> {
  const dir = await Deno.makeTempDir({ prefix: "warren-server-test-" });
  const client = generateEd25519("client");
  const keyFile = `${dir}/id_ed25519`;
  await Deno.writeTextFile(keyFile, client.private, { mode: 0o600 });
  await Deno.writeTextFile(
    `${dir}/authorized_keys`,
    `${keyOptions}${keyOptions && " "}${client.public}\n`,
  );
  const hostKey = await loadHostKey(`${dir}/host_key`, true);
  const log: string[] = [];
  let waiters: { pattern: RegExp; resolve: () => void }[] = [];
  setupLogging("debug");
  setLogWriter((line) => {
    log.push(line);
    waiters = waiters.filter((w) => !(w.pattern.test(line) && (w.resolve(), true)));
  });
  const server = await WarrenServer.start({
    hostname: "127.0.0.1",
    port: 0,
    hostKey,
    authorizedKeysFile: `${dir}/authorized_keys`,
    gatewayPorts: false,
    ...opts,
  });
  const port = server.address.port;
  const knownHosts = `${dir}/known_hosts`;
  const pub = await Deno.readTextFile(`${dir}/host_key.pub`);
  await Deno.writeTextFile(
    knownHosts,
    `[127.0.0.1]:${port} ${pub.split(" ").slice(0, 2).join(" ")}\n`,
  );
  return {
    server,
    port,
    dir,
    client,
    keyFile,
    knownHosts,
    log,
    waitLog: (pattern) =>
      log.some((l) => pattern.test(l))
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ pattern, resolve })),
    async [Symbol.asyncDispose]() {
      await server.close();
      setLogWriter((line) => void Deno.stderr.writeSync(new TextEncoder().encode(line)));
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** An ssh2 client run to ready, its first error, or its close. */
function ssh2Attempt(
  port: number,
  config: Record<string, unknown>,
): Promise<{ error?: Error; client: Client }> {
  return new Promise((resolve) => {
    const client = new Client();
    client.once("ready", () => resolve({ client }));
    client.once("error", (error) => resolve({ error, client }));
    client.once("close", () => resolve({ error: new Error("closed"), client }));
    client.connect({ host: "127.0.0.1", port, readyTimeout: 20_000, ...config } as never);
  });
}

function connect(r: Rig) {
  return connectSsh(
    sshOptions({ port: r.port, clientKey: r.keyFile, knownHosts: r.knownHosts }, {
      connectTimeout: 20,
    }),
  );
}

Deno.test("WarrenServer refuses a real password attempt and offers only publickey", async () => {
  await using r = await rig();
  const { error, client } = await ssh2Attempt(r.port, { username: "eve", password: "guess" });
  client.end();
  assert.match(String(error), /All configured authentication methods failed/);
  await r.waitLog(/refused password for eve: only public keys are accepted/);
});

Deno.test("WarrenServer disconnects after 6 failed attempts", async () => {
  await using r = await rig();
  const strangers = Array.from({ length: 8 }, () => generateEd25519().private);
  let offered = 0;
  const { error, client } = await ssh2Attempt(r.port, {
    username: "eve",
    authHandler: (_left: unknown, _partial: unknown, next: (m: unknown) => void) =>
      next(
        offered < strangers.length
          ? { type: "publickey", username: "eve", key: strangers[offered++] }
          : false,
      ),
  });
  client.end();
  assert.ok(error);
  await r.waitLog(/6 failed authentication attempts: disconnecting/);
  assert.ok(offered <= 7, `the server kept listening after ${offered} keys`);
});

Deno.test("WarrenServer drops a client that does not authenticate within the login grace time", async () => {
  await using r = await rig({ loginGraceSeconds: 0.2 });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: r.port });
  const buf = new Uint8Array(1024);
  while (await conn.read(buf) !== null) { /* the server's version line, then EOF */ }
  conn.close();
  await r.waitLog(/#1 127\.0\.0\.1:\d+: not authenticated within 0\.2 s: closing/);
});

/** Connect and read until the server's SSH version line, or null at EOF without one. */
async function versionLine(port: number): Promise<{ conn: Deno.TcpConn; line: string | null }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const buf = new Uint8Array(256);
  let text = "";
  while (!text.includes("\n")) {
    const n = await conn.read(buf);
    if (n === null) return { conn, line: null };
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  return { conn, line: text.split("\r\n")[0] };
}

Deno.test("WarrenServer refuses connections beyond --max-startups until fewer wait to authenticate", async () => {
  // A hard cap of 2; the random draw is fixed, so the test does not depend on chance.
  await using r = await rig({ maxStartups: parseStartups("2"), random: () => 0.5 });
  const first = await versionLine(r.port);
  const second = await versionLine(r.port);
  assert.match(first.line ?? "", /^SSH-2\.0-warren_/);
  assert.match(second.line ?? "", /^SSH-2\.0-warren_/);
  // Two wait (neither says anything): the third is closed before any SSH.
  const third = await versionLine(r.port);
  assert.equal(third.line, null);
  third.conn.close();
  await r.waitLog(/Too many connections waiting to authenticate \(2; --max-startups 2\)/);
  // One goes away: the refusals are counted, and a new client is served again.
  first.conn.close();
  await r.waitLog(/Refused 1 connection\(s\) while too many waited to authenticate/);
  const fourth = await versionLine(r.port);
  assert.match(fourth.line ?? "", /^SSH-2\.0-warren_/);
  fourth.conn.close();
  second.conn.close();
  // An authenticated client no longer counts: with one waiting, two more log in.
  const waiting = await versionLine(r.port);
  await using a = await connect(r);
  await using b = await connect(r);
  assert.ok(a && b);
  waiting.conn.close();
});

Deno.test("WarrenServer: direct-tcpip keeps half-close both ways", async () => {
  await using r = await rig();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const echo = (async () => {
    const conn = await listener.accept();
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(65536);
    for (let n; (n = await conn.read(buf)) !== null;) chunks.push(buf.slice(0, n));
    // Our side got EOF; answer after it, then half-close.
    for (const c of chunks) await conn.write(c);
    await conn.closeWrite();
    conn.close();
  })();
  await using ssh = await connect(r);
  const ch = await ssh.openDirect("127.0.0.1", 1, "127.0.0.1", listener.addr.port);
  const data = Buffer.alloc(3 * 1024 * 1024, 7);
  const back: Buffer[] = [];
  const ended = new Promise<void>((resolve) => {
    ch.on("data", (d: Buffer) => back.push(d));
    ch.once("end", resolve);
  });
  ch.end(data);
  await ended;
  assert.equal(Buffer.compare(Buffer.concat(back), data), 0);
  ch.destroy();
  await echo;
  listener.close();
  await r.waitLog(/direct-tcpip 127\.0\.0\.1:1 -> 127\.0\.0\.1:\d+/);
});

Deno.test("WarrenServer: tcpip-forward on port 0 and its cancel", async () => {
  await using r = await rig();
  await using ssh = await connect(r);
  const port = await ssh.forwardIn("localhost", 0, (_d, accept) => {
    const ch = accept();
    ch.end("hello from the client side\n");
    ch.resume();
  });
  assert.ok(port > 0);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const buf = new Uint8Array(100);
  const n = await conn.read(buf);
  assert.equal(new TextDecoder().decode(buf.subarray(0, n!)), "hello from the client side\n");
  conn.close();
  await ssh.unforwardIn("localhost", port);
  await r.waitLog(new RegExp(`remote forward on localhost:${port} cancelled`));
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port }));
});

Deno.test("WarrenServer refuses session channels, and streamlocal without --permit-streamlocal", async () => {
  await using r = await rig();
  const { error, client } = await ssh2Attempt(r.port, {
    username: "tester",
    privateKey: r.client.private,
    strictVendor: false,
  });
  assert.equal(error, undefined);
  const exec = await new Promise<Error | undefined>((res) =>
    client.exec("true", (err) => res(err))
  );
  assert.match(String(exec), /warren serve forwards TCP ports only; it offers no sessions/);
  const unix = await new Promise<Error | undefined>((res) =>
    client.openssh_forwardOutStreamLocal("/run/x.sock", (err) => res(err))
  );
  assert.match(String(unix), /Unix socket forwarding is off \(see --permit-streamlocal\)/);
  client.end();
  await r.waitLog(/refused direct-streamlocal to \/run\/x\.sock: Unix socket forwarding is off/);
});

Deno.test("WarrenServer.close() disconnects live clients and their tunnels", async () => {
  const r = await rig();
  const ssh = await connect(r);
  const port = await ssh.forwardIn("localhost", 0, (_d, _accept, reject) => reject());
  const closed = ssh.closed;
  await r[Symbol.asyncDispose]();
  assert.ok(await closed, "the client saw its connection end");
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port }));
  await ssh.close();
});

// deno-lint-ignore no-explicit-any
type Internal = any;

/** ssh2Attempt with the rig's client key, which must succeed. */
async function ssh2Client(r: Rig): Promise<Client> {
  const { error, client } = await ssh2Attempt(r.port, {
    username: "tester",
    privateKey: r.client.private,
  });
  assert.equal(error, undefined);
  return client;
}

/** forwardOut on a raw ssh2 Client, as a promise. */
function forwardOut(client: Client, port: number): Promise<Internal> {
  return new Promise((resolve, reject) =>
    client.forwardOut(
      "127.0.0.1",
      1,
      "127.0.0.1",
      port,
      (err, ch) => err ? reject(err) : resolve(ch),
    )
  );
}

Deno.test("WarrenServer: a destination that closes first still has all its bytes delivered", async () => {
  await using r = await rig();
  // The destination writes 3 MiB and closes; the client has sent EOF and
  // holds back its window adjusts, so when warren reads the destination's
  // EOF, a megabyte still waits in ssh2 for window. Closing the channel then
  // (as the pump once did) dropped it: PuTTY and dropbear clients lost data.
  const size = 3 * 1024 * 1024;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const source = (async () => {
    const conn = await listener.accept();
    const data = new Uint8Array(size).fill(5);
    for (let off = 0; off < size;) off += await conn.write(data.subarray(off));
    conn.close();
  })();
  const client = await ssh2Client(r);
  const proto = (client as Internal)._protocol;
  const held: [number, number][] = [];
  const adjust = proto.channelWindowAdjust.bind(proto);
  proto.channelWindowAdjust = (id: number, amount: number) => void held.push([id, amount]);
  try {
    const ch = await forwardOut(client, listener.addr.port);
    const window: number = ch.incoming.window;
    let received = 0;
    const closed = new Promise((resolve) => ch.once("close", resolve));
    const fullWindow = new Promise<void>((resolve) =>
      ch.on("data", (d: Buffer) => {
        received += d.length;
        if (received === window) resolve();
      })
    );
    ch.end();
    await fullWindow;
    await source;
    // Time for warren to read the destination's EOF (it has nothing else to do).
    await new Promise((resolve) => setTimeout(resolve, 200));
    proto.channelWindowAdjust = adjust;
    for (const [id, amount] of held) adjust(id, amount);
    await closed;
    assert.equal(received, size);
  } finally {
    client.end();
    listener.close();
  }
});

Deno.test("WarrenServer answers no channel request on a channel it has closed", async () => {
  await using r = await rig();
  await using echo = startEchoServer();
  const client = await ssh2Client(r);
  const proto = (client as Internal)._protocol;
  const handlers = proto._handlers;
  const failures: number[] = [];
  const onFailure = handlers.CHANNEL_FAILURE;
  handlers.CHANNEL_FAILURE = (p: unknown, recipient: number) => {
    failures.push(recipient);
    onFailure(p, recipient);
  };
  // A request that crosses warren's CHANNEL_CLOSE on the wire, as PuTTY's
  // winadj@putty.projects.tartarus.org does: PuTTY then frees the channel,
  // and a CHANNEL_FAILURE for it ended the whole session.
  let requested = 0;
  const onClose = handlers.CHANNEL_CLOSE;
  handlers.CHANNEL_CLOSE = (p: unknown, recipient: number) => {
    const ch = (client as Internal)._chanMgr.get(recipient);
    proto.env(ch.outgoing.id, "WINADJ", "1", true);
    requested++;
    onClose(p, recipient);
  };
  try {
    const ch = await forwardOut(client, echo.port);
    ch.resume();
    const closed = new Promise((resolve) => ch.once("close", resolve));
    ch.end("bye");
    await closed;
    // Another channel: any answer to the request would have come before it.
    (await forwardOut(client, echo.port)).destroy();
    assert.equal(requested, 1);
    assert.deepEqual(failures, []);
  } finally {
    client.end();
  }
});
