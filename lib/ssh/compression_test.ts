/**
 * compression.ts: the zlib stream on node:zlib's handle, its place inside
 * ssh2, and warren's client and server compressing to each other in-process
 * (both directions, across re-keys, and a compression that cannot start).
 * The real clients and OpenSSH's sshd are in tests/compression_test.ts.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import zlib from "node:zlib";
// ssh2 internals; no types.
import ssh2Zlib from "ssh2/lib/protocol/zlib.js";
import {
  compressionUnavailable,
  MAX_INFLATED_PACKET,
  offeredCompression,
  originalSsh2Zlib,
  warrenZlibClasses,
  ZlibStream,
  zlibStreams,
} from "./compression.ts";
import { connectSsh, type SshConnection } from "./connection.ts";
import { setLogWriter, setupLogging } from "../log.ts";
import { sshOptions } from "../../tests/_harness/real_peers.ts";
import { startEchoServer } from "../../tests/_harness/local_servers.ts";
import { loadHostKey } from "../server/host_key.ts";
import { generateEd25519 } from "../server/keygen.ts";
import { WarrenServer } from "../server/server.ts";

/** Log-like text: compressible, but not trivially. */
function text(bytes: number, seed = 1): Buffer {
  const words = ["tunnel", "ssh", "warren", "packet", "zlib", "window", "channel", "rekey"];
  let x = seed;
  const parts: string[] = [];
  let n = 0;
  while (n < bytes) {
    x = (x * 1103515245 + 12345) >>> 0;
    const line = `${x % 100000} ${words[x % 8]} ${words[(x >>> 8) % 8]} ${(x >>> 4) % 997}\n`;
    parts.push(line);
    n += line.length;
  }
  return Buffer.from(parts.join("")).subarray(0, bytes);
}

Deno.test("ZlibStream: packets form one zlib stream that zlib's own inflate reads", () => {
  const deflate = new ZlibStream("deflate");
  try {
    const packets = [text(3000, 1), text(3000, 1), Buffer.alloc(0), text(40_000, 2)];
    const compressed = packets.map((p) => deflate.write(p));
    // The second packet repeats the first: the stream remembers it.
    assert.ok(
      compressed[1].length * 10 < compressed[0].length,
      `${compressed.map((c) => c.length)}`,
    );
    const whole = zlib.inflateSync(Buffer.concat(compressed), {
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    assert.equal(Buffer.compare(whole, Buffer.concat(packets)), 0);
  } finally {
    deflate.close();
  }
});

Deno.test("ZlibStream: inflates a zlib stream split anywhere, across the output buffer", () => {
  const data = Buffer.concat([text(200_000, 3), Buffer.alloc(150_000, 7), text(10_000, 4)]);
  const stream = zlib.deflateSync(data);
  const inflate = new ZlibStream("inflate");
  try {
    const out: Buffer[] = [];
    for (let at = 0, step = 1; at < stream.length; at += step, step = step * 3 + 1) {
      out.push(inflate.write(stream.subarray(at, at + step)));
    }
    assert.equal(Buffer.compare(Buffer.concat(out), data), 0);
  } finally {
    inflate.close();
  }
});

Deno.test("ZlibStream: a packet that inflates past the cap is an error", () => {
  const deflate = new ZlibStream("deflate");
  const inflate = new ZlibStream("inflate");
  try {
    const bomb = deflate.write(Buffer.alloc(MAX_INFLATED_PACKET + 1));
    assert.ok(bomb.length < 2000);
    assert.throws(
      () => inflate.write(bomb, MAX_INFLATED_PACKET),
      /zlib inflate: a packet inflates to over 262144 bytes/,
    );
    // The stream stays failed.
    assert.throws(() => inflate.write(Buffer.alloc(0)), /inflates to over/);
  } finally {
    deflate.close();
    inflate.close();
  }
});

Deno.test("ZlibStream: corrupt input throws at once and leaves no error event behind", () => {
  const inflate = new ZlibStream("inflate");
  try {
    assert.throws(
      () => inflate.write(Buffer.from("this is not zlib data")),
      /^Error: zlib inflate: /,
    );
  } finally {
    inflate.close();
  }
  assert.throws(() => inflate.write(Buffer.alloc(1)), /stream is closed/);
});

Deno.test("compression.ts: ssh2 uses warren's zlib classes, and needs them under Deno", () => {
  assert.equal(compressionUnavailable, undefined);
  assert.equal(ssh2Zlib.ZlibPacketReader, warrenZlibClasses.PacketInflater);
  assert.equal(ssh2Zlib.ZlibPacketWriter, warrenZlibClasses.PacketDeflater);
  // Why this module exists: when this stops throwing, Deno runs ssh2's own
  // classes and compression.ts may be dropped (see its header).
  assert.throws(
    () => new (originalSsh2Zlib.ZlibPacketReader as new () => unknown)(),
    /expected type `v8::data::Function`/,
  );
  assert.deepEqual(offeredCompression("server"), ["none", "zlib@openssh.com"]);
  assert.deepEqual(offeredCompression("client"), ["none", "zlib@openssh.com", "zlib"]);
  assert.deepEqual(offeredCompression("client", true), ["zlib@openssh.com", "zlib", "none"]);
});

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
