/**
 * Origin servers for real-peer tests: run as its own program with
 * `deno run --allow-net origin_server.ts`, usually inside a test namespace.
 *
 * HTTP and a raw TCP echo each listen on 127.0.0.1 and [::1] with the same
 * port number (::1 is skipped when the host has no IPv6). When ready it prints
 * one JSON line `{"httpPort":N,"echoPort":M,"ipv6":true}` on stdout and then
 * serves until killed.
 *
 * HTTP endpoints:
 *   GET  /hello        "hello from origin\n"
 *   GET  /bytes/N      N bytes of patternBytes(N, seed), streamed, with
 *                      Content-Length (optional ?seed=S, default 1)
 *   POST /echo         the request body back
 *   GET  /headers      {"method","url","headers"} as JSON
 *
 * Echo: bytes come back as they arrive; on the client's EOF the server
 * finishes echoing, half-closes (closeWrite) and closes. It uses
 * conn.read()/write loops because reading conn.readable to EOF closes the
 * whole socket in Deno and breaks half-close.
 */

import { patternStream } from "./pattern.ts";

const MAX_BYTES = 2 ** 40;

function handle(req: Request): Response {
  const url = new URL(req.url);
  const get = req.method === "GET" || req.method === "HEAD";
  if (get && url.pathname === "/hello") {
    return new Response("hello from origin\n");
  }
  const bytes = /^\/bytes\/(\d+)$/.exec(url.pathname);
  if (get && bytes) {
    const n = Number(bytes[1]);
    const seed = Number(url.searchParams.get("seed") ?? "1");
    if (n > MAX_BYTES || !Number.isInteger(seed)) {
      return new Response("bad size or seed\n", { status: 400 });
    }
    return new Response(patternStream(n, seed), {
      headers: {
        "content-length": `${n}`,
        "content-type": "application/octet-stream",
      },
    });
  }
  if (req.method === "POST" && url.pathname === "/echo") {
    const type = req.headers.get("content-type") ?? "application/octet-stream";
    return new Response(req.body, { headers: { "content-type": type } });
  }
  if (get && url.pathname === "/headers") {
    const headers = Object.fromEntries(req.headers);
    return Response.json({ method: req.method, url: req.url, headers });
  }
  return new Response("not found\n", { status: 404 });
}

async function echo(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  try {
    (conn as Deno.TcpConn).setNoDelay(true);
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      for (let off = 0; off < n;) off += await conn.write(buf.subarray(off, n));
    }
    await conn.closeWrite();
  } catch {
    // The client went away mid-stream; nothing to report.
  } finally {
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}

async function acceptLoop(listener: Deno.Listener): Promise<void> {
  for await (const conn of listener) echo(conn);
}

function isNoIpv6(err: unknown): boolean {
  return err instanceof Deno.errors.AddrNotAvailable ||
    (err instanceof Error && /not supported|unavailable/i.test(err.message));
}

/** Bind `open(host, port)` on 127.0.0.1:0, then the same port on ::1. */
function dualBind<T>(
  open: (hostname: string, port: number) => T,
  portOf: (t: T) => number,
  close: (t: T) => void,
): { servers: T[]; port: number; ipv6: boolean } {
  for (let attempt = 0; attempt < 20; attempt++) {
    const v4 = open("127.0.0.1", 0);
    const port = portOf(v4);
    try {
      return { servers: [v4, open("::1", port)], port, ipv6: true };
    } catch (err) {
      if (isNoIpv6(err)) return { servers: [v4], port, ipv6: false };
      close(v4);
      if (!(err instanceof Deno.errors.AddrInUse)) throw err;
    }
  }
  throw new Error("Could not bind the same port on 127.0.0.1 and ::1");
}

const http = dualBind(
  (hostname, port) => Deno.serve({ hostname, port, onListen() {} }, handle),
  (s) => s.addr.port,
  (s) => void s.shutdown(),
);
const echoes = dualBind(
  (hostname, port) => Deno.listen({ hostname, port }),
  (l) => (l.addr as Deno.NetAddr).port,
  (l) => l.close(),
);
for (const l of echoes.servers) acceptLoop(l);
console.log(JSON.stringify({
  httpPort: http.port,
  echoPort: echoes.port,
  ipv6: http.ipv6 && echoes.ipv6,
}));
