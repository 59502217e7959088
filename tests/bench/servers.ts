/**
 * The benchmark's far end, run as its own process so its CPU time does not
 * share an event loop with the load generator:
 *
 * - sink: reads into one reused buffer until EOF, then answers with the byte
 *   count (8 bytes, big-endian) and closes;
 * - source: reads an 8-byte big-endian length N, sends N bytes, half-closes
 *   and waits for the peer to close;
 * - echo: writes back every byte it reads (TCP_NODELAY), half-closes on EOF.
 *
 * Listens on 127.0.0.1 only and prints `{"sink":P,"source":P,"echo":P}` as one
 * line on stdout. Exits when its stdin reaches EOF (the bench closed it or
 * died), so it never outlives the benchmark.
 */

const BUF = 256 * 1024;

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

async function readExactly(conn: Deno.Conn, buf: Uint8Array): Promise<boolean> {
  let off = 0;
  while (off < buf.length) {
    const n = await conn.read(buf.subarray(off));
    if (n === null) return false;
    off += n;
  }
  return true;
}

async function drain(conn: Deno.Conn, buf: Uint8Array): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) return total;
    total += n;
  }
}

async function sink(conn: Deno.TcpConn): Promise<void> {
  const total = await drain(conn, new Uint8Array(BUF));
  const ack = new Uint8Array(8);
  new DataView(ack.buffer).setBigUint64(0, BigInt(total));
  await writeAll(conn, ack);
}

const payload = new Uint8Array(BUF).map((_, i) => (i * 131 + 7) & 0xff);

async function source(conn: Deno.TcpConn): Promise<void> {
  const head = new Uint8Array(8);
  if (!await readExactly(conn, head)) return;
  let left = Number(new DataView(head.buffer).getBigUint64(0));
  while (left > 0) {
    const n = await conn.write(left >= BUF ? payload : payload.subarray(0, left));
    left -= n;
  }
  await conn.closeWrite();
  await drain(conn, head);
}

async function echo(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  const buf = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    await writeAll(conn, buf.subarray(0, n));
  }
  await conn.closeWrite();
}

function serve(handler: (conn: Deno.TcpConn) => Promise<void>): Deno.TcpListener {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const conn of listener) {
      handler(conn).catch(() => {}).finally(() => {
        try {
          conn.close();
        } catch { /* closed */ }
      });
    }
  })().catch(() => {});
  return listener;
}

if (import.meta.main) {
  const listeners = { sink: serve(sink), source: serve(source), echo: serve(echo) };
  const ports = Object.fromEntries(
    Object.entries(listeners).map(([k, l]) => [k, l.addr.port]),
  );
  console.log(JSON.stringify(ports));
  // Hold until stdin ends, then exit even if connections are still open.
  const buf = new Uint8Array(64);
  while (await Deno.stdin.read(buf).catch(() => null) !== null) { /* ignore input */ }
  Deno.exit(0);
}
