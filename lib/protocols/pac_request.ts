/**
 * The one origin-form request a proxy port answers itself: `GET /proxy.pac`
 * (or HEAD), the proxy auto-config file for browsers ("automatic proxy
 * configuration URL" http://127.0.0.1:1080/proxy.pac). Every other
 * origin-form request is still refused by the proxy decoder.
 */
import { type Decoded, failed, NEED_MORE } from "./decoded.ts";
import { headEnd, MAX_HEAD } from "./http_proxy.ts";

export const PAC_PATH = "/proxy.pac";

export interface PacRequest {
  /** The Host header (how the client reached the proxy), if any. */
  host?: string;
  /** HEAD: the headers only. */
  head: boolean;
}

const LINE = /^(GET|HEAD) \/proxy\.pac(?:\?[\x21-\x7e]*)? HTTP\/1\.[01]$/;
const STARTS = ["GET /proxy.pac", "HEAD /proxy.pac"];

/**
 * A PAC request; undefined when the bytes are not (or cannot become) one, so
 * that the caller tries the proxy decoder instead.
 */
export function decodePacRequest(buf: Uint8Array): Decoded<PacRequest> | undefined {
  const nl = buf.indexOf(0x0a);
  const first = String.fromCharCode(...buf.subarray(0, nl < 0 ? Math.min(buf.length, 64) : nl))
    .replace(/\r$/, "");
  if (nl < 0) {
    return STARTS.some((s) => s.startsWith(first) || first.startsWith(s)) ? NEED_MORE : undefined;
  }
  const m = LINE.exec(first);
  if (!m) return undefined;
  const end = headEnd(buf, MAX_HEAD);
  if (end === undefined) {
    return buf.length >= MAX_HEAD ? failed("request head is too large") : NEED_MORE;
  }
  const lines = String.fromCharCode(...buf.subarray(0, end.head)).split(/\r?\n/).slice(1);
  const host = lines.find((l) => /^host:/i.test(l))?.slice(5).trim();
  return {
    kind: "done",
    value: { host: host || undefined, head: m[1] === "HEAD" },
    used: end.used,
  };
}

/** The proxy address for the PAC: the Host the client used, when it is a plain host:port. */
export function pacProxyAddress(host: string | undefined, fallback: string): string {
  return host && /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/.test(host) ? host : fallback;
}

/** The response carrying `pac`. */
export function pacResponse(pac: string, head: boolean): Uint8Array {
  const body = new TextEncoder().encode(pac);
  const headers = "HTTP/1.1 200 OK\r\nContent-Type: application/x-ns-proxy-autoconfig\r\n" +
    `Content-Length: ${body.length}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n`;
  const h = new TextEncoder().encode(headers);
  if (head) return h;
  const out = new Uint8Array(h.length + body.length);
  out.set(h);
  out.set(body, h.length);
  return out;
}
