/**
 * A TCP relay that holds every chunk for a fixed delay in each direction: a
 * long link (50 ms round trip = 25 ms each way) in front of a server, for
 * window tests and the bench. The kernel here has no netem, so the delay is
 * added in user space; order and bytes are kept, and each direction is
 * bounded only by what the sender's window lets through.
 */
import { closeQuietly, writeAll } from "../../lib/net/io.ts";

export interface DelayRelay extends AsyncDisposable {
  port: number;
  close(): Promise<void>;
}

export function startDelayRelay(
  target: { hostname: string; port: number },
  oneWayMs: number,
): DelayRelay {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  const track = (p: Promise<void>) => {
    tasks.add(p);
    p.finally(() => tasks.delete(p));
  };
  const pipe = async (from: Deno.Conn, to: Deno.Conn) => {
    const queue: { data: Uint8Array; due: number }[] = [];
    let wake: (() => void) | undefined;
    let ended = false;
    const writer = (async () => {
      for (;;) {
        const next = queue.shift();
        if (next === undefined) {
          if (ended) break;
          await new Promise<void>((r) => wake = r);
          continue;
        }
        const wait = next.due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        await writeAll(to, next.data);
      }
      await to.closeWrite().catch(() => {});
    })();
    try {
      const buf = new Uint8Array(256 * 1024);
      for (;;) {
        const n = await from.read(buf);
        if (n === null) break;
        queue.push({ data: buf.slice(0, n), due: performance.now() + oneWayMs });
        wake?.();
      }
    } finally {
      ended = true;
      wake?.();
      await writer.catch(() => {});
    }
  };
  const loop = (async () => {
    for await (const inbound of listener) {
      conns.add(inbound);
      track((async () => {
        let outbound: Deno.Conn | undefined;
        try {
          outbound = await Deno.connect(target);
          conns.add(outbound);
          await Promise.allSettled([pipe(inbound, outbound), pipe(outbound, inbound)]);
        } finally {
          closeQuietly(inbound);
          if (outbound) closeQuietly(outbound);
          conns.delete(inbound);
          if (outbound) conns.delete(outbound);
        }
      })());
    }
  })().catch(() => {});
  const close = async () => {
    closeQuietly(listener);
    for (const c of conns) closeQuietly(c);
    await loop;
    await Promise.allSettled([...tasks]);
  };
  return { port: listener.addr.port, close, [Symbol.asyncDispose]: close };
}
