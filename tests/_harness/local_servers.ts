/**
 * Small in-process TCP peers for tunnel tests: an echo server that keeps
 * half-close semantics, and a "stalled" server that accepts and never reads.
 */
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

/** Write `data`, half-close, read everything back. */
export async function roundTrip(
  port: number,
  data: Uint8Array,
  hostname = "127.0.0.1",
): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname, port });
  try {
    const reading = readAll(conn);
    await writeAll(conn, data);
    await conn.closeWrite();
    return await reading;
  } finally {
    conn.close();
  }
}

export async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(64 * 1024);
  for (;;) {
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
