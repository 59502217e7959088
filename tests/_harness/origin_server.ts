/**
 * Origin servers for real-peer tests: run as its own program with
 * `deno run --allow-net origin_server.ts [--cert F --key F] [--files DIR]`,
 * usually inside a test namespace.
 *
 * HTTP and a raw TCP echo each listen on 127.0.0.1 and [::1] with the same
 * port number (::1 is skipped when the host has no IPv6). Given the paths of a
 * PEM certificate and key (and read permission for them), HTTPS serves the
 * same endpoints too. When ready it prints one JSON line
 * `{"httpPort":N,"echoPort":M,"ipv6":true}` (with `"httpsPort":P` when
 * serving HTTPS) on stdout and then serves until killed.
 *
 * HTTP endpoints:
 *   GET  /hello        "hello from origin\n"
 *   GET  /bytes/N      N bytes of patternBytes(N, seed), streamed, with
 *                      Content-Length (optional ?seed=S, default 1)
 *   POST /echo         the request body back
 *   GET  /headers      {"method","url","headers"} as JSON
 *   GET  /files/PATH   the file PATH under --files DIR (no "..")
 *   GET  /page?parts=N an HTML page that loads N scripts /part/I.js (each
 *                      16 KiB, N at most 100); once all have run, its
 *                      <p id="parts"> reads "parts 0,1,...,N-1" (in order)
 *
 * Echo: bytes come back as they arrive; on the client's EOF the server
 * finishes echoing, half-closes (closeWrite) and closes. It uses
 * conn.read()/write loops because reading conn.readable to EOF closes the
 * whole socket in Deno and breaks half-close.
 */

import { parseArgs } from "node:util";
import { patternStream } from "./pattern.ts";

const options = parseArgs({
  options: { cert: { type: "string" }, key: { type: "string" }, files: { type: "string" } },
}).values;

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
  if (get && url.pathname === "/page") {
    const parts = Number(url.searchParams.get("parts") ?? "1");
    if (!Number.isInteger(parts) || parts < 1 || parts > 100) {
      return new Response("bad parts\n", { status: 400 });
    }
    const scripts = Array.from(
      { length: parts },
      (_, i) => `<script src="/part/${i}.js"></script>`,
    );
    return new Response(
      `<!doctype html><title>origin page</title><p id="parts">none</p>${scripts.join("")}` +
        `<script>document.getElementById("parts").textContent = "parts " + (self.loadedParts ?? []).join(",");</script>`,
      { headers: { "content-type": "text/html; charset=utf-8" } },
    );
  }
  const file = /^\/files\/(.+)$/.exec(url.pathname);
  if (get && file && options.files !== undefined) {
    const path = decodeURIComponent(file[1]);
    if (path.split("/").every((p) => p !== "" && p !== "." && p !== "..")) {
      try {
        return new Response(Deno.readFileSync(`${options.files}/${path}`));
      } catch { /* missing, or a directory: not found */ }
    }
  }
  const part = /^\/part\/(\d+)\.js$/.exec(url.pathname);
  if (get && part) {
    // 16 KiB of comment, so each part is more than one SSH packet.
    const body = `(self.loadedParts ??= []).push(${Number(part[1])});\n/*${
      "x".repeat(16 * 1024)
    }*/\n`;
    return new Response(body, { headers: { "content-type": "text/javascript" } });
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
const tls = options.cert !== undefined && options.key !== undefined
  ? { cert: Deno.readTextFileSync(options.cert), key: Deno.readTextFileSync(options.key) }
  : undefined;
const https = tls && dualBind(
  (hostname, port) => Deno.serve({ hostname, port, ...tls, onListen() {} }, handle),
  (s) => s.addr.port,
  (s) => void s.shutdown(),
);
console.log(JSON.stringify({
  httpPort: http.port,
  echoPort: echoes.port,
  ipv6: http.ipv6 && echoes.ipv6,
  ...(https ? { httpsPort: https.port } : {}),
}));
