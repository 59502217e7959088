/**
 * Small in-process TCP peers for tunnel tests: an echo server that keeps
 * half-close semantics, and a "stalled" server that accepts and never reads.
 */
import assert from "node:assert/strict";
import { writeAll } from "../../lib/net/io.ts";

export interface LocalServer extends AsyncDisposable {
  port: number;
  /** Connections accepted so far. */
  accepted(): number;
  close(): Promise<void>;
}

function serve(
  handler: (conn: Deno.TcpConn) => Promise<void>,
  hostname = "127.0.0.1",
): LocalServer {
  const listener = Deno.listen({ hostname, port: 0 });
  const conns = new Set<Deno.TcpConn>();
  const tasks = new Set<Promise<void>>();
  let count = 0;
  const loop = (async () => {
    for await (const conn of listener) {
      count++;
      conns.add(conn);
      const task = handler(conn).catch(() => {}).finally(() => {
        conns.delete(conn);
        try {
          conn.close();
        } catch { /* closed */ }
      });
      tasks.add(task);
      task.finally(() => tasks.delete(task));
    }
  })().catch(() => {});
  const close = async () => {
    try {
      listener.close();
    } catch { /* closed */ }
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await loop;
    await Promise.allSettled([...tasks]);
  };
  return { port: listener.addr.port, accepted: () => count, close, [Symbol.asyncDispose]: close };
}

/** Echo every byte; on EOF, half-close and wait for the peer to close. */
export function startEchoServer(hostname?: string): LocalServer {
  return serve(async (conn) => {
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      await writeAll(conn, buf.subarray(0, n));
    }
    await conn.closeWrite();
    while (await conn.read(buf) !== null) { /* until the peer closes */ }
  }, hostname);
}

/** Accept and never read: for backpressure tests. `release()` drains. */
export function startStalledServer(): LocalServer & { release(): void } {
  let release!: () => void;
  const released = new Promise<void>((r) => release = r);
  const server = serve(async (conn) => {
    await released;
    const buf = new Uint8Array(64 * 1024);
    while (await conn.read(buf) !== null) { /* drain */ }
  });
  return { ...server, release };
}

/** Write `data`, half-close, read everything back (slowly, if asked). */
export async function roundTrip(
  port: number,
  data: Uint8Array,
  hostname = "127.0.0.1",
  opts: { slowReader?: boolean } = {},
): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname, port });
  try {
    const reading = opts.slowReader ? readSlowly(conn) : readAll(conn);
    await writeAll(conn, data);
    await conn.closeWrite();
    return await reading;
  } finally {
    conn.close();
  }
}

export function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  return readUntilEof(conn, 64 * 1024, 0);
}

/**
 * Read until EOF at most 16 KiB a millisecond: a receiver slower than the
 * tunnel, so that the sender's side always has bytes queued for SSH window.
 */
export function readSlowly(conn: Deno.Conn): Promise<Uint8Array> {
  return readUntilEof(conn, 16 * 1024, 1);
}

async function readUntilEof(conn: Deno.Conn, size: number, pauseMs: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(size);
  for (;;) {
    if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
    const n = await conn.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
    total += n;
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** Read exactly `n` bytes; EOF before that is an error. */
export async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  for (let off = 0; off < n;) {
    const got = await conn.read(out.subarray(off));
    if (got === null) throw new Error(`EOF after ${off} of ${n} bytes`);
    off += got;
  }
  return out;
}

/** Deterministic bytes for byte-for-byte comparisons. */
export function testBytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * A server that speaks first: it sends `data`, half-closes, then reads until
 * the peer's EOF. `received()` is what its first connection got. For the
 * half-close order where the far side finishes sending before the near side
 * starts.
 */
export function startSpeakFirstServer(
  data: Uint8Array,
  opts: { slowReader?: boolean } = {},
): LocalServer & { received(): Promise<Uint8Array> } {
  const got = Promise.withResolvers<Uint8Array>();
  const server = serve(async (conn) => {
    try {
      await writeAll(conn, data);
      await conn.closeWrite();
      got.resolve(await (opts.slowReader ? readSlowly(conn) : readAll(conn)));
    } catch (err) {
      got.reject(err);
    }
  });
  return { ...server, received: () => got.promise };
}

/**
 * A server that listens first: it reads until the peer's EOF, then sends
 * `reply` and closes. `received()` is what the latest connection sent it.
 */
export function startReplyAfterEofServer(
  reply: Uint8Array,
): LocalServer & { received(): Promise<Uint8Array> } {
  const got = Promise.withResolvers<Uint8Array>();
  const server = serve(async (conn) => {
    const bytes = await readAll(conn);
    got.resolve(bytes);
    await writeAll(conn, reply);
  });
  return { ...server, received: () => got.promise };
}

/** The client of a speak-first server: read everything, then send `upload` and half-close. */
export async function readThenSend(
  port: number,
  upload: Uint8Array,
  hostname = "127.0.0.1",
): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname, port });
  try {
    const got = await readAll(conn);
    await writeAll(conn, upload);
    await conn.closeWrite();
    return got;
  } finally {
    conn.close();
  }
}

/**
 * Byte for byte, failing with where the first difference is (assert's
 * deepEqual spends minutes describing two unequal arrays of 32 MiB).
 */
export function assertSameBytes(got: Uint8Array, want: Uint8Array, what = "bytes"): void {
  const n = Math.min(got.length, want.length);
  let i = 0;
  while (i < n && got[i] === want[i]) i++;
  if (i < n) assert.fail(`${what}: first difference at byte ${i} of ${want.length}`);
  assert.equal(got.length, want.length, `${what}: length`);
}
