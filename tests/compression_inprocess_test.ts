/**
 * warren's client and `warren serve` compressing to each other in-process:
 * both directions, across re-keys, off unless asked, and a compression that
 * cannot start. (The zlib stream itself: lib/ssh/compression_test.ts.)
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { connectSsh, type SshConnection } from "../lib/ssh/connection.ts";
import { setLogWriter, setupLogging } from "../lib/log.ts";
import { loadHostKey } from "../lib/server/host_key.ts";
import { generateEd25519 } from "../lib/server/keygen.ts";
import { WarrenServer } from "../lib/server/server.ts";
import { warrenZlibClasses, zlibStreams } from "../lib/ssh/compression.ts";
import { sshOptions } from "./_harness/real_peers.ts";
import { startEchoServer } from "./_harness/local_servers.ts";
import { logText as text } from "./_harness/text.ts";

interface Rig extends AsyncDisposable {
  server: WarrenServer;
  connect(compression: boolean): Promise<SshConnection>;
  log: string[];
}

async function rig(): Promise<Rig> {
  const dir = await Deno.makeTempDir({ prefix: "warren-compression-test-" });
  const client = generateEd25519("client");
  const keyFile = `${dir}/id_ed25519`;
  await Deno.writeTextFile(keyFile, client.private, { mode: 0o600 });
  await Deno.writeTextFile(`${dir}/authorized_keys`, `${client.public}\n`);
  const hostKey = await loadHostKey(`${dir}/host_key`, true);
  const log: string[] = [];
  setupLogging("debug");
  setLogWriter((line) => void log.push(line));
  const server = await WarrenServer.start({
    hostname: "127.0.0.1",
    port: 0,
    hostKey,
    authorizedKeysFile: `${dir}/authorized_keys`,
    gatewayPorts: false,
  });
  const port = server.address.port;
  const knownHosts = `${dir}/known_hosts`;
  const pub = (await Deno.readTextFile(`${dir}/host_key.pub`)).split(" ");
  await Deno.writeTextFile(knownHosts, `[127.0.0.1]:${port} ${pub[0]} ${pub[1]}\n`);
  return {
    server,
    log,
    connect: (compression) =>
      connectSsh(sshOptions({ port, clientKey: keyFile, knownHosts }, { compression })),
    async [Symbol.asyncDispose]() {
      await server.close();
      setLogWriter((line) => void Deno.stderr.writeSync(new TextEncoder().encode(line)));
      await Deno.remove(dir, { recursive: true });
    },
  };
}

// deno-lint-ignore no-explicit-any
const protocolOf = (ssh: SshConnection) => (ssh.client as any)._protocol;

/** Send `data` through a channel to the echo server, re-keying after the first quarter. */
async function echoThrough(ssh: SshConnection, port: number, data: Uint8Array): Promise<Buffer> {
  const ch = await ssh.openDirect("127.0.0.1", 1, "127.0.0.1", port);
  const chunks: Buffer[] = [];
  ch.on("data", (d: Buffer) => chunks.push(d));
  const ended = new Promise((resolve) => ch.once("close", resolve));
  const quarter = data.length >> 2;
  await new Promise((resolve) => ch.write(data.subarray(0, quarter), resolve));
  protocolOf(ssh).rekey();
  await new Promise((resolve) => ch.write(data.subarray(quarter), resolve));
  ch.end();
  await ended;
  return Buffer.concat(chunks);
}

Deno.test("warren client and serve compress both ways in-process, across a re-key", async () => {
  await using r = await rig();
  await using echo = startEchoServer();
  await using ssh = await r.connect(true);
  const proto = protocolOf(ssh);
  assert.equal(proto._kex.negotiated.cs.compress, "zlib@openssh.com");
  assert.equal(proto._kex.negotiated.sc.compress, "zlib@openssh.com");
  assert.ok(proto._packetRW.read instanceof warrenZlibClasses.PacketInflater);
  assert.ok(proto._packetRW.write instanceof warrenZlibClasses.PacketDeflater);
  const data = Buffer.concat([
    text(3 * 1024 * 1024, 5),
    Buffer.from(crypto.getRandomValues(new Uint8Array(65536))),
  ]);
  const firstReader = proto._packetRW.read;
  let handshakes = 0;
  ssh.client.on("handshake", () => handshakes++);
  const back = await echoThrough(ssh, echo.port, data);
  assert.equal(handshakes, 1);
  assert.equal(back.length, data.length);
  assert.equal(Buffer.compare(back, data), 0);
  // The re-key restarted both streams with new ones (RFC 4253 §6.2).
  assert.notEqual(proto._packetRW.read, firstReader);
  assert.ok(proto._packetRW.read instanceof warrenZlibClasses.PacketInflater);
  assert.ok(
    r.log.some((l) =>
      /#1 transport \S+ \/ \S+, compression zlib@openssh\.com \/ zlib@openssh\.com/.test(l)
    ),
    r.log.join(""),
  );
});

Deno.test("warren client does not compress unless asked", async () => {
  await using r = await rig();
  await using ssh = await r.connect(false);
  assert.equal(protocolOf(ssh)._kex.negotiated.cs.compress, "none");
  assert.equal(protocolOf(ssh)._kex.negotiated.sc.compress, "none");
});

Deno.test("serve: a compression that cannot start drops the client and says so", async () => {
  await using r = await rig();
  const open = zlibStreams.open;
  // Only the server's stream fails: it starts first, inside its USERAUTH_SUCCESS.
  zlibStreams.open = () => {
    zlibStreams.open = open;
    throw new Error("no zlib today");
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const outcome = await Promise.race([
      r.connect(true).then(async (ssh) => {
        const why = await ssh.closed;
        return `closed: ${why?.message}`;
      }, (err) => `refused: ${err.message}`),
      // Far above the milliseconds this takes: the bug was a client left hanging.
      new Promise<string>((resolve) => timer = setTimeout(() => resolve("hung"), 20_000)),
    ]);
    assert.match(outcome, /^(closed|refused): /);
  } finally {
    clearTimeout(timer);
    zlibStreams.open = open;
  }
  const log = r.log.join("");
  assert.match(log, /#1 cannot start the session after authentication: no zlib today/);
  assert.doesNotMatch(log, /authentication failed/);
  // The server carries on.
  await using ssh = await r.connect(true);
  assert.equal(protocolOf(ssh)._kex.negotiated.sc.compress, "zlib@openssh.com");
});
