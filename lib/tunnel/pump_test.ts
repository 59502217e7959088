import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Duplex } from "node:stream";
import { endConnection, pump } from "./pump.ts";

/** A Duplex standing in for an ssh2 channel: `push` is what the peer sends; `incoming.state` as ssh2 keeps it. */
function fakeChannel(): Duplex & { incoming: { state: string } } {
  const d = new Duplex({
    read() {},
    write(_chunk, _enc, cb) {
      cb();
    },
    final(cb) {
      cb();
    },
  });
  return Object.assign(d, { incoming: { state: "open" } });
}

/** A loopback TCP pair: `conn` for the pump, `peer` for the test to read. */
async function tcpPair(): Promise<{ conn: Deno.TcpConn; peer: Deno.TcpConn }> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [conn, peer] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    listener.accept(),
  ]);
  return { conn, peer };
}

/** More than loopback's socket buffers hold, so the pump still has writes queued. */
const BYTES = 48 * 1024 * 1024;
const CHUNK = 32 * 1024;

function feed(ch: ReturnType<typeof fakeChannel>): Buffer {
  const all = Buffer.alloc(BYTES);
  for (let i = 0; i < BYTES; i++) all[i] = (i * 7 + (i >>> 13)) & 0xff;
  for (let at = 0; at < BYTES; at += CHUNK) ch.push(all.subarray(at, at + CHUNK));
  return all;
}

async function readAll(conn: Deno.Conn): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  const buf = new Uint8Array(256 * 1024);
  for (let n; (n = await conn.read(buf)) !== null;) parts.push(buf.slice(0, n));
  return Buffer.concat(parts);
}

Deno.test("endConnection: a stream the peer has ended is written out before the socket closes", async () => {
  const { conn, peer } = await tcpPair();
  const ch = fakeChannel();
  const done = pump(conn, ch);
  const sent = feed(ch);
  ch.incoming.state = "eof";
  ch.push(null);
  await new Promise((r) => setTimeout(r, 20));
  // The connection set closes while megabytes wait for the reader.
  endConnection(conn, 30_000);
  const got = await readAll(peer);
  peer.close(); // our EOF: the pump's local side ends too
  const r = await done;
  assert.equal(r.error, undefined);
  assert.equal(got.length, BYTES);
  assert.equal(Buffer.compare(got, sent), 0);
  assert.equal(r.received, BYTES);
});

Deno.test("endConnection: a stream the peer has not ended is cut at once", async () => {
  const { conn, peer } = await tcpPair();
  const ch = fakeChannel();
  const done = pump(conn, ch);
  feed(ch);
  await new Promise((r) => setTimeout(r, 20));
  endConnection(conn, 30_000);
  const r = await done;
  assert.ok(r.received < BYTES, `${r.received} bytes written`);
  ch.destroy();
  peer.close();
});

Deno.test("endConnection: a reader that does not read is given up on after the grace", async () => {
  const { conn, peer } = await tcpPair();
  const ch = fakeChannel();
  const done = pump(conn, ch);
  feed(ch);
  ch.incoming.state = "eof";
  ch.push(null);
  await new Promise((r) => setTimeout(r, 20));
  endConnection(conn, 50);
  const r = await done;
  assert.match(String(r.error?.message), /not all delivered in 50 ms/);
  peer.close();
});
