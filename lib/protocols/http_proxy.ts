/**
 * The HTTP proxy side of a socks/ listener: a pure decoder for the request
 * head a proxy client sends, the rewrite of an absolute-URI request for the
 * origin, and the proxy's own responses.
 *
 *   CONNECT host:port HTTP/1.1            -> "200 Connection established",
 *                                            then bytes both ways
 *   GET http://host[:port]/path HTTP/1.1  -> "GET /path HTTP/1.1" to host:port
 *
 * The head (request line and headers) is at most `maxHead` bytes (16 KiB by
 * default); the body is not parsed, it follows the head unchanged.
 *
 * Bytes are handled as Latin-1 (one char per byte) so that a rewritten head
 * carries every other header byte for byte.
 */
import { type Decoded, failed, isPlausibleHostName, NEED_MORE } from "./decoded.ts";

export const MAX_HEAD = 16 * 1024;

export interface HttpProxyRequest {
  method: string;
  /** "1.0" or "1.1". */
  version: string;
  host: string;
  port: number;
  /** For absolute-URI requests: the origin-form target ("/path?q"). */
  path: string;
  /** The authority as it appeared ("host:port" or "host"), for Host. */
  authority: string;
  /** Header lines in order, as [name, value]; value without outer spaces. */
  headers: [string, string][];
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) ([\x21-\x7e]+) HTTP\/(1\.[01])$/;

/** Headers a proxy must not forward (RFC 9110 7.6.1), besides those named in Connection. */
const HOP_BY_HOP = new Set([
  "connection",
  "proxy-connection",
  "keep-alive",
  "proxy-authorization",
  "proxy-authenticate",
  "te",
  "trailer",
  "upgrade",
  "host",
]);

/** A proxy request head: CONNECT or an absolute http:// URI. */
export function decodeHttpRequest(buf: Uint8Array, maxHead = MAX_HEAD): Decoded<HttpProxyRequest> {
  const bad = (why: string) => failed(why, httpResponse(400, "Bad Request", why));
  const nl = buf.indexOf(0x0a);
  const first = latin1(buf.subarray(0, nl < 0 ? Math.min(buf.length, maxHead) : nl))
    .replace(/\r$/, "");
  if (nl < 0 ? !couldStartRequestLine(first) : !REQUEST_LINE.test(first)) {
    return bad("malformed request line");
  }
  const end = headEnd(buf, maxHead);
  if (end === undefined) {
    return buf.length >= maxHead
      ? failed("request head is too large", httpResponse(431))
      : NEED_MORE;
  }
  const lines = latin1(buf.subarray(0, end.head)).split(/\r?\n/);
  const [, method, target, version] = REQUEST_LINE.exec(lines[0])!;
  const headers: [string, string][] = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon);
    if (colon <= 0 || !TOKEN.test(name)) return bad("malformed header line");
    headers.push([name, line.slice(colon + 1).trim()]);
  }
  const dest = method.toUpperCase() === "CONNECT" ? authorityForm(target) : absoluteForm(target);
  if (typeof dest === "string") return bad(dest);
  return { kind: "done", value: { method, version, headers, ...dest }, used: end.used };
}

/** Whether `text` (no newline yet) can still grow into a request line. */
function couldStartRequestLine(text: string): boolean {
  const parts = text.split(" ");
  if (parts.length > 3) return false;
  if (parts.length > 1 && !TOKEN.test(parts[0])) return false;
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]*$/.test(parts[0])) return false;
  if (parts.length > 2 && !/^[\x21-\x7e]+$/.test(parts[1])) return false;
  if (parts.length === 2 && !/^[\x21-\x7e]*$/.test(parts[1])) return false;
  return parts.length < 3 || "HTTP/1.0".startsWith(parts[2]) || "HTTP/1.1".startsWith(parts[2]);
}

/**
 * The head ends at the first empty line ("\r\n\r\n" or "\n\n"): `head` is
 * the length of the lines before it, `used` includes the empty line.
 * Undefined when there is none within `max` bytes.
 */
export function headEnd(buf: Uint8Array, max: number): { head: number; used: number } | undefined {
  const limit = Math.min(buf.length, max);
  for (let i = buf.indexOf(0x0a); i >= 0 && i + 1 < limit; i = buf.indexOf(0x0a, i + 1)) {
    const head = i > 0 && buf[i - 1] === 0x0d ? i - 1 : i;
    if (buf[i + 1] === 0x0a) return { head, used: i + 2 };
    if (buf[i + 1] === 0x0d && i + 2 < limit && buf[i + 2] === 0x0a) return { head, used: i + 3 };
  }
  return undefined;
}

type Destination = Pick<HttpProxyRequest, "host" | "port" | "path" | "authority">;

/** "host:port" or "[v6]:port"; the port is required. */
function authorityForm(target: string): Destination | string {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]/@?#]+):(\d{1,5})$/.exec(target);
  if (!m) return "CONNECT needs host:port";
  const port = Number(m[2]);
  const host = m[1].replace(/^\[(.*)\]$/, "$1");
  if (port < 1 || port > 65535 || !isPlausibleHostName(host)) return "bad CONNECT target";
  return { host, port, path: "", authority: target };
}

/** "http://host[:port][/path][?query]" ; fragments are dropped. */
function absoluteForm(target: string): Destination | string {
  const m = /^http:\/\/(\[[0-9A-Fa-f:.]+\]|[^:[\]/@?#]+)(?::(\d{1,5}))?([/?][^#]*)?(#.*)?$/i
    .exec(target);
  if (!m) {
    return /^https:/i.test(target)
      ? "https:// URLs go through CONNECT"
      : "a proxy request needs an absolute http:// URL";
  }
  const port = m[2] === undefined ? 80 : Number(m[2]);
  const host = m[1].replace(/^\[(.*)\]$/, "$1");
  if (port < 1 || port > 65535 || !isPlausibleHostName(host)) return "bad URL host or port";
  const path = m[3] === undefined ? "/" : m[3].startsWith("?") ? `/${m[3]}` : m[3];
  return { host, port, path, authority: m[2] === undefined ? m[1] : `${m[1]}:${m[2]}` };
}

/** The value of the first header named `name` (case-insensitive). */
export function headerValue(req: HttpProxyRequest, name: string): string | undefined {
  const lower = name.toLowerCase();
  return req.headers.find(([n]) => n.toLowerCase() === lower)?.[1];
}

/**
 * The head to send to the origin: origin-form request line, Host from the
 * URI, hop-by-hop headers dropped, and `Connection: close`. warren forwards
 * one request per proxied connection: after this head the bytes are pumped
 * unparsed, so a second request on the same connection would reach the same
 * origin. `Connection: close` makes the origin end the exchange after one
 * response, and the client then opens a new proxy connection.
 */
export function originRequest(req: HttpProxyRequest): Uint8Array {
  const named = new Set<string>();
  for (const [n, v] of req.headers) {
    const lower = n.toLowerCase();
    if (lower !== "connection" && lower !== "proxy-connection") continue;
    for (const token of v.split(",")) named.add(token.trim().toLowerCase());
  }
  const keep = req.headers.filter(([n]) => {
    const lower = n.toLowerCase();
    return !HOP_BY_HOP.has(lower) && !named.has(lower);
  });
  const lines = [
    `${req.method} ${req.path} HTTP/${req.version}`,
    `Host: ${req.authority}`,
    ...keep.map(([n, v]) => `${n}: ${v}`),
    "Connection: close",
    "",
    "",
  ];
  return fromLatin1(lines.join("\r\n"));
}

/** The user and password of `Proxy-Authorization: Basic ...`, as bytes. */
export function basicCredentials(
  value: string | undefined,
): { user: Uint8Array; password: Uint8Array } | undefined {
  const m = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(value ?? "");
  if (!m) return undefined;
  let decoded: string;
  try {
    decoded = atob(m[1]);
  } catch {
    return undefined;
  }
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  return {
    user: fromLatin1(decoded.slice(0, colon)),
    password: fromLatin1(decoded.slice(colon + 1)),
  };
}

const REASONS: Record<number, string> = {
  200: "Connection established",
  400: "Bad Request",
  403: "Forbidden",
  407: "Proxy Authentication Required",
  431: "Request Header Fields Too Large",
  502: "Bad Gateway",
  504: "Gateway Timeout",
};

/** The proxy's own response: status line, a short text body, Connection: close. */
export function httpResponse(
  status: number,
  reason = REASONS[status],
  detail?: string,
): Uint8Array {
  const body = `${detail ?? reason}\n`;
  const extra = status === 407 ? 'Proxy-Authenticate: Basic realm="warren"\r\n' : "";
  return fromLatin1(
    `HTTP/1.1 ${status} ${reason}\r\n${extra}Content-Type: text/plain\r\n` +
      `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** What a CONNECT gets before the bytes flow. */
export function connectEstablished(): Uint8Array {
  return fromLatin1("HTTP/1.1 200 Connection established\r\n\r\n");
}

function latin1(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    out += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return out;
}

function fromLatin1(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}
