/**
 * A Unix socket echo server with half-close, and a client that writes,
 * half-closes and reads everything back, for the Unix socket tunnel tests.
 */

/** A Unix socket echo server with half-close: EOF in, then EOF out. */
export function unixEcho(path: string): AsyncDisposable {
  const listener = Deno.listen({ transport: "unix", path });
  const tasks = new Set<Promise<void>>();
  const conns = new Set<Deno.Conn>();
  const loop = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      const task = (async () => {
        const buf = new Uint8Array(32 * 1024);
        try {
          for (let n; (n = await conn.read(buf)) !== null;) {
            for (let off = 0; off < n;) off += await conn.write(buf.subarray(off, n));
          }
          await conn.closeWrite();
          // Wait for the peer to close.
          while (await conn.read(buf) !== null) { /* nothing */ }
        } catch { /* the peer went away */ }
        conn.close();
        conns.delete(conn);
      })();
      tasks.add(task);
    }
  })();
  return {
    async [Symbol.asyncDispose]() {
      listener.close();
      await loop.catch(() => {});
      for (const c of conns) c.close();
      await Promise.allSettled([...tasks]);
    },
  };
}

/** Write `data` and half-close while reading everything back; the bytes that came. */
export async function echoRoundTrip(conn: Deno.Conn, data: Uint8Array): Promise<Uint8Array> {
  const writing = (async () => {
    for (let off = 0; off < data.length;) off += await conn.write(data.subarray(off));
    await conn.closeWrite();
  })();
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(64 * 1024);
  for (let n; (n = await conn.read(buf)) !== null;) {
    chunks.push(buf.slice(0, n));
    total += n;
  }
  await writing;
  conn.close();
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) out.set(c, (off += c.length) - c.length);
  return out;
}
