/**
 * Port helpers for tests.
 *
 * `freePort()` asks the OS for an unused port (listen on port 0, read it back,
 * close). There is a small race between closing and the caller binding it,
 * which is acceptable for tests. `randomPort()` is for ports this process
 * cannot probe (in another namespace, or bound by a server at its start). `waitForPort()` dials until something accepts,
 * with a hard deadline and a clear error.
 */

/** Ports freePort() has handed out in this process. */
const handedOut = new Set<number>();

/**
 * A port that was free on `hostname` a moment ago, and not one this process
 * was given before: the OS may hand the same port to two `port: 0` listens
 * in a row once the first is closed, and a test that asks for two ports at
 * once then gets one port twice (seen: `-L` and `-L socks/` on one port).
 */
export function freePort(hostname = "127.0.0.1"): number {
  for (let tries = 0; tries < 1000; tries++) {
    const listener = Deno.listen({ hostname, port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`freePort: no port on ${hostname} that was not handed out already`);
}

/** A port number picked at random from 20000-59999. */
export function randomPort(): number {
  return 20_000 + Math.floor(Math.random() * 40_000);
}

/** Dial `host:port` until it accepts a TCP connection or `timeoutMs` passes. */
export async function waitForPort(
  host: string,
  port: number,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const conn = await Deno.connect({ hostname: host, port });
      conn.close();
      return;
    } catch (err) {
      last = err;
    }
    await sleep(Math.min(50, Math.max(0, deadline - Date.now())));
  }
  throw new Error(
    `Timed out after ${timeoutMs} ms waiting for ${host}:${port} to accept: ${
      last instanceof Error ? last.message : String(last)
    }`,
  );
}

/** Resolve after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
