/**
 * The runtime's floor: a plain TCP relay in Deno, no SSH, no encryption.
 * Each `LISTEN:TARGET` argument is a port on 127.0.0.1 relayed to a port on
 * 127.0.0.1, copying both ways (one reused read buffer per direction,
 * sized as warren's pump sizes its own), with half-close passed on (EOF →
 * closeWrite). What warren costs above this is what SSH and
 * warren's own code cost; what this costs is Deno's.
 */

import { nextReadSize, writeAll } from "../../lib/net/io.ts";

/** Read buffers as warren's pump sizes them: 4 KiB idle, doubling to 256 KiB while reads fill them. */
const MIN_READ = 4 * 1024;
const MAX_READ = 256 * 1024;

async function copy(from: Deno.Conn, to: Deno.TcpConn): Promise<void> {
  let buf = new Uint8Array(MIN_READ);
  try {
    for (;;) {
      const n = await from.read(buf);
      if (n === null) break;
      await writeAll(to, buf.subarray(0, n));
      const size = nextReadSize(n, buf.length, MIN_READ, MAX_READ);
      if (size !== buf.length) buf = new Uint8Array(size);
    }
    await to.closeWrite();
  } catch { /* the other side closes both */ }
}

async function relay(inbound: Deno.TcpConn, port: number): Promise<void> {
  let outbound: Deno.TcpConn | undefined;
  try {
    inbound.setNoDelay(true);
    outbound = await Deno.connect({ hostname: "127.0.0.1", port });
    outbound.setNoDelay(true);
    await Promise.all([copy(inbound, outbound), copy(outbound, inbound)]);
  } catch {
    /* refused: close the client */
  } finally {
    for (const c of [inbound, outbound]) {
      try {
        c?.close();
      } catch { /* closed */ }
    }
  }
}

for (const arg of Deno.args) {
  const [listen, target] = arg.split(":").map(Number);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: listen });
  (async () => {
    for await (const conn of listener) relay(conn, target);
  })();
}
