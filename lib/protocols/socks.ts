/**
 * SOCKS4, SOCKS4a and SOCKS5 (RFC 1928) with username/password
 * authentication (RFC 1929): pure decoders for what a client sends and
 * encoders for what the proxy answers. Only CONNECT is supported; BIND and
 * UDP ASSOCIATE decode to an error carrying the "command not supported" reply.
 *
 *   SOCKS4  request   04 CMD PORT(2) IPv4(4) USERID 00 [HOSTNAME 00]
 *                     (SOCKS4a: IPv4 0.0.0.x with x != 0, then a host name)
 *           reply     00 5A|5B PORT(2) IPv4(4)
 *   SOCKS5  greeting  05 N METHOD*N          -> 05 METHOD (FF: none acceptable)
 *           user/pass 01 ULEN USER PLEN PASS -> 01 00 (ok) | 01 01
 *           request   05 CMD 00 ATYP ADDR PORT(2)
 *                     ATYP 01 IPv4(4) | 03 LEN NAME | 04 IPv6(16)
 *           reply     05 REP 00 ATYP BND.ADDR BND.PORT(2)
 *
 * Host names are returned as text, never resolved: the SSH server does that.
 */
import { type Decoded, failed, isPlausibleHostName, NEED_MORE } from "./decoded.ts";

export const SOCKS4_VERSION = 0x04;
export const SOCKS5_VERSION = 0x05;
export const CMD_CONNECT = 0x01;

/** SOCKS5 authentication methods. */
export const METHOD_NONE = 0x00;
export const METHOD_USER_PASS = 0x02;
export const METHOD_NOT_ACCEPTABLE = 0xff;

/** SOCKS5 reply codes (RFC 1928 section 6). */
export const REP = {
  succeeded: 0x00,
  generalFailure: 0x01,
  notAllowed: 0x02,
  networkUnreachable: 0x03,
  hostUnreachable: 0x04,
  connectionRefused: 0x05,
  ttlExpired: 0x06,
  commandNotSupported: 0x07,
  addressTypeNotSupported: 0x08,
} as const;

/** SOCKS4 reply codes. */
export const SOCKS4_GRANTED = 0x5a;
export const SOCKS4_REJECTED = 0x5b;

/** The longest SOCKS4 user id or SOCKS4a host name accepted (without NUL). */
const MAX_FIELD = 255;

export interface SocksRequest {
  host: string;
  port: number;
  addressType: "ipv4" | "ipv6" | "domain";
}

export interface Socks4Request extends SocksRequest {
  userId: string;
}

export interface Credentials {
  user: Uint8Array;
  password: Uint8Array;
}

/** A SOCKS4 or SOCKS4a CONNECT request. */
export function decodeSocks4(buf: Uint8Array): Decoded<Socks4Request> {
  const reject = socks4Reply(SOCKS4_REJECTED);
  if (buf.length < 1) return NEED_MORE;
  if (buf[0] !== SOCKS4_VERSION) return failed("not a SOCKS4 request");
  if (buf.length < 2) return NEED_MORE;
  if (buf[1] !== CMD_CONNECT) {
    return failed(`SOCKS4 command ${buf[1]} is not supported (CONNECT only)`, reject);
  }
  if (buf.length < 8) return NEED_MORE;
  const userEnd = indexOfNul(buf, 8, MAX_FIELD);
  if (userEnd === -2) return failed("SOCKS4 user id is too long", reject);
  if (userEnd < 0) return NEED_MORE;
  const port = (buf[2] << 8) | buf[3];
  const userId = ascii(buf.subarray(8, userEnd));
  const is4a = buf[4] === 0 && buf[5] === 0 && buf[6] === 0 && buf[7] !== 0;
  if (!is4a) {
    const host = buf.subarray(4, 8).join(".");
    return { kind: "done", value: { host, port, addressType: "ipv4", userId }, used: userEnd + 1 };
  }
  const nameEnd = indexOfNul(buf, userEnd + 1, MAX_FIELD);
  if (nameEnd === -2) return failed("SOCKS4a host name is too long", reject);
  if (nameEnd < 0) return NEED_MORE;
  const host = ascii(buf.subarray(userEnd + 1, nameEnd));
  if (!isPlausibleHostName(host)) return failed("SOCKS4a host name is not valid", reject);
  return { kind: "done", value: { host, port, addressType: "domain", userId }, used: nameEnd + 1 };
}

/** The SOCKS5 greeting: the authentication methods the client offers. */
export function decodeSocks5Greeting(buf: Uint8Array): Decoded<Uint8Array> {
  if (buf.length < 1) return NEED_MORE;
  if (buf[0] !== SOCKS5_VERSION) return failed("not a SOCKS5 greeting");
  if (buf.length < 2) return NEED_MORE;
  const n = buf[1];
  if (n === 0) {
    return failed("SOCKS5 greeting offers no methods", socks5Method(METHOD_NOT_ACCEPTABLE));
  }
  if (buf.length < 2 + n) return NEED_MORE;
  return { kind: "done", value: buf.slice(2, 2 + n), used: 2 + n };
}

/** An RFC 1929 username/password request (sent after method 0x02). */
export function decodeUserPass(buf: Uint8Array): Decoded<Credentials> {
  if (buf.length < 1) return NEED_MORE;
  if (buf[0] !== 0x01) return failed("bad username/password version", userPassReply(false));
  if (buf.length < 2) return NEED_MORE;
  const ulen = buf[1];
  if (buf.length < 3 + ulen) return NEED_MORE;
  const plen = buf[2 + ulen];
  const end = 3 + ulen + plen;
  if (buf.length < end) return NEED_MORE;
  const user = buf.slice(2, 2 + ulen);
  const password = buf.slice(3 + ulen, end);
  return { kind: "done", value: { user, password }, used: end };
}

/** A SOCKS5 request; anything but CONNECT gets "command not supported". */
export function decodeSocks5Request(buf: Uint8Array): Decoded<SocksRequest> {
  if (buf.length < 1) return NEED_MORE;
  if (buf[0] !== SOCKS5_VERSION) {
    return failed("not a SOCKS5 request", socks5Reply(REP.generalFailure));
  }
  if (buf.length < 2) return NEED_MORE;
  if (buf[1] !== CMD_CONNECT) {
    return failed(
      `SOCKS5 command ${buf[1]} is not supported (CONNECT only)`,
      socks5Reply(REP.commandNotSupported),
    );
  }
  if (buf.length < 4) return NEED_MORE;
  const atyp = buf[3];
  let host: string;
  let addressType: SocksRequest["addressType"];
  let off: number;
  if (atyp === 0x01) {
    if (buf.length < 10) return NEED_MORE;
    host = buf.subarray(4, 8).join(".");
    addressType = "ipv4";
    off = 8;
  } else if (atyp === 0x04) {
    if (buf.length < 22) return NEED_MORE;
    host = formatIpv6(buf.subarray(4, 20));
    addressType = "ipv6";
    off = 20;
  } else if (atyp === 0x03) {
    if (buf.length < 5) return NEED_MORE;
    const len = buf[4];
    if (buf.length < 5 + len + 2) return NEED_MORE;
    host = ascii(buf.subarray(5, 5 + len));
    if (!isPlausibleHostName(host)) {
      return failed("SOCKS5 host name is not valid", socks5Reply(REP.generalFailure));
    }
    addressType = "domain";
    off = 5 + len;
  } else {
    return failed(
      `SOCKS5 address type ${atyp} is not supported`,
      socks5Reply(REP.addressTypeNotSupported),
    );
  }
  const port = (buf[off] << 8) | buf[off + 1];
  return { kind: "done", value: { host, port, addressType }, used: off + 2 };
}

/** The SOCKS5 method selection message. */
export function socks5Method(method: number): Uint8Array {
  return Uint8Array.of(SOCKS5_VERSION, method);
}

/** The RFC 1929 status reply. */
export function userPassReply(ok: boolean): Uint8Array {
  return Uint8Array.of(0x01, ok ? 0x00 : 0x01);
}

/** A SOCKS5 reply; the bound address defaults to 0.0.0.0:0. */
export function socks5Reply(rep: number, bound?: { host: string; port: number }): Uint8Array {
  const v4 = bound ? parseIpv4(bound.host) : undefined;
  const v6 = bound && !v4 ? parseIpv6(bound.host) : undefined;
  const addr = v4 ?? v6 ?? new Uint8Array(4);
  const port = v4 || v6 ? bound!.port : 0;
  const out = new Uint8Array(6 + addr.length);
  out.set([SOCKS5_VERSION, rep, 0x00, addr.length === 16 ? 0x04 : 0x01]);
  out.set(addr, 4);
  out[4 + addr.length] = port >> 8;
  out[5 + addr.length] = port & 0xff;
  return out;
}

/** A SOCKS4 reply (0x5A granted, 0x5B rejected), with an IPv4 bound address. */
export function socks4Reply(code: number, bound?: { host: string; port: number }): Uint8Array {
  const v4 = bound ? parseIpv4(bound.host) : undefined;
  const port = v4 ? bound!.port : 0;
  return Uint8Array.of(0x00, code, port >> 8, port & 0xff, ...(v4 ?? [0, 0, 0, 0]));
}

/** Index of the first NUL at or after `from`, -1 if not yet, -2 if past `max`. */
function indexOfNul(buf: Uint8Array, from: number, max: number): number {
  const end = Math.min(buf.length, from + max + 1);
  for (let i = from; i < end; i++) if (buf[i] === 0) return i;
  return buf.length > from + max ? -2 : -1;
}

function ascii(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}

/** "a.b.c.d" (also an IPv4-mapped "::ffff:a.b.c.d") to 4 bytes. */
export function parseIpv4(text: string): Uint8Array | undefined {
  const m = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/i.exec(text);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? Uint8Array.from(parts) : undefined;
}

/** IPv6 text (with "::", an optional zone) to 16 bytes. */
export function parseIpv6(text: string): Uint8Array | undefined {
  const addr = text.replace(/%.*$/, "");
  const halves = addr.split("::");
  if (halves.length > 2) return undefined;
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  const out = new Uint8Array(16);
  for (const [i, g] of all.entries()) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  }
  return out;
}

/** 16 bytes to RFC 5952 text: lower case, the longest zero run as "::". */
export function formatIpv6(bytes: Uint8Array): string {
  const words = Array.from({ length: 8 }, (_, i) => (bytes[2 * i] << 8) | bytes[2 * i + 1]);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}
