/**
 * FTP address syntax (RFC 959, RFC 1123 §4.1.2.6, RFC 2428) and the line
 * splitter the control-channel rewriters share. Pure functions over bytes and
 * strings; no I/O.
 *
 * Text is handled as Latin-1 (one char per byte) so that a rewritten line
 * keeps every other byte exactly, whatever the encoding of file names.
 */

/** A data address: a host (IPv4 dotted or IPv6 text) and a port. */
export interface HostPort {
  host: string;
  port: number;
}

/** Bytes → string, one char per byte. */
export function latin1(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return out;
}

/** String (chars 0–255) → bytes, one byte per char. */
export function latin1Bytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function isIpv4(text: string): boolean {
  const m = IPV4_RE.exec(text);
  return !!m && m.slice(1).every((n) => Number(n) <= 255);
}

/** Expand an IPv6 address to 8 lowercase groups; undefined if invalid. */
function expandIpv6(text: string): string[] | undefined {
  let s = text.toLowerCase();
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  let tail: string[] = [];
  const lastColon = s.lastIndexOf(":");
  const last = s.slice(lastColon + 1);
  if (last.includes(".")) {
    // An embedded IPv4 address fills the last two groups.
    if (lastColon < 0 || !isIpv4(last)) return undefined;
    const b = last.split(".").map(Number);
    tail = [(b[0] << 8 | b[1]).toString(16), (b[2] << 8 | b[3]).toString(16)];
    s = s.slice(0, lastColon + 1);
    if (!s.endsWith("::")) s = s.slice(0, -1);
  }
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const part = (h: string) => (h === "" ? [] : h.split(":"));
  const head = part(halves[0]);
  const rest = halves.length === 2 ? part(halves[1]) : [];
  const count = head.length + rest.length + tail.length;
  const fill = halves.length === 2 ? 8 - count : 0;
  if (fill < 0 || (halves.length === 1 && count !== 8)) return undefined;
  const all = [...head, ...Array(fill).fill("0"), ...rest, ...tail];
  if (!all.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return all.map((g) => g.replace(/^0+(?=.)/, ""));
}

export function isIpv6(text: string): boolean {
  return text.includes(":") && expandIpv6(text) !== undefined;
}

/**
 * One spelling per address, for comparing a PORT/EPRT address with the
 * control connection's peer: IPv4 dotted (also for ::ffff:a.b.c.d), IPv6 as
 * 8 expanded groups. Anything else is returned lowercased.
 */
export function canonicalIp(text: string): string {
  if (isIpv4(text)) return text.split(".").map(Number).join(".");
  const groups = expandIpv6(text);
  if (!groups) return text.toLowerCase();
  if (groups.slice(0, 5).every((g) => g === "0") && groups[5] === "ffff") {
    const n = [groups[6], groups[7]].map((g) => parseInt(g, 16));
    return [n[0] >> 8, n[0] & 255, n[1] >> 8, n[1] & 255].join(".");
  }
  return groups.join(":");
}

/** `a1,a2,a3,a4,p1,p2` anywhere in a 227 reply (RFC 1123: scan for it). */
const PASV_RE = /(\d{1,3}) *, *(\d{1,3}) *, *(\d{1,3}) *, *(\d{1,3}) *, *(\d{1,3}) *, *(\d{1,3})/;

/** Find the address of a 227 reply; the text starts after the reply code. */
export function findPasvAddress(
  text: string,
): (HostPort & { index: number; length: number }) | undefined {
  const m = PASV_RE.exec(text);
  if (!m) return undefined;
  const n = m.slice(1).map(Number);
  if (n.some((x) => x > 255)) return undefined;
  return {
    host: n.slice(0, 4).join("."),
    port: n[4] * 256 + n[5],
    index: m.index,
    length: m[0].length,
  };
}

/** `h1,h2,h3,h4,p1,p2` for an IPv4 address and a port. */
export function formatHostPortNumbers(host: string, port: number): string {
  return `${host.split(".").map(Number).join(",")},${port >> 8},${port & 255}`;
}

/** The argument of PORT: exactly six numbers 0–255 (spaces tolerated). */
export function parsePortArgument(arg: string): HostPort | undefined {
  const m = /^ *(\d{1,3}) *, *(\d{1,3}) *, *(\d{1,3}) *, *(\d{1,3}) *, *(\d{1,3}) *, *(\d{1,3}) *$/
    .exec(arg);
  if (!m) return undefined;
  const n = m.slice(1).map(Number);
  if (n.some((x) => x > 255)) return undefined;
  const port = n[4] * 256 + n[5];
  if (port === 0) return undefined;
  return { host: n.slice(0, 4).join("."), port };
}

export type EprtResult =
  | { ok: true; family: 1 | 2; host: string; port: number }
  | { ok: false; why: "syntax" | "family" };

/** The argument of EPRT: `<d>af<d>address<d>port<d>` (RFC 2428 §2). */
export function parseEprtArgument(arg: string): EprtResult {
  const d = arg.charCodeAt(0);
  if (!(d >= 33 && d <= 126)) return { ok: false, why: "syntax" };
  const parts = arg.split(arg[0]);
  if (parts.length !== 5 || parts[0] !== "" || parts[4] !== "") {
    return { ok: false, why: "syntax" };
  }
  const [, af, host, portText] = parts;
  if (af !== "1" && af !== "2") {
    return /^\d+$/.test(af) ? { ok: false, why: "family" } : { ok: false, why: "syntax" };
  }
  if (af === "1" ? !isIpv4(host) : !isIpv6(host)) {
    return { ok: false, why: "syntax" };
  }
  if (!/^\d{1,5}$/.test(portText)) return { ok: false, why: "syntax" };
  const port = Number(portText);
  if (port < 1 || port > 65535) return { ok: false, why: "syntax" };
  return { ok: true, family: af === "1" ? 1 : 2, host, port };
}

/** `EPRT |1|127.0.0.1|4021|`, the family from the address. */
export function formatEprtArgument(host: string, port: number): string {
  return `|${isIpv4(host) ? 1 : 2}|${host}|${port}|`;
}

/** The port in a 229 reply: `(<d><d><d>port<d>)`, any delimiter 33–126. */
const EPSV_RE = /\(([\x21-\x7e])\1\1(\d{1,5})\1\)/;

export function findEpsvPort(
  text: string,
): { port: number; index: number; length: number } | undefined {
  const m = EPSV_RE.exec(text);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  // The number starts after "(" and three delimiters.
  return { port, index: m.index + 4, length: m[2].length };
}

/** One piece out of the splitter: a whole line, or part of an overlong one. */
export interface LinePiece {
  bytes: Uint8Array;
  /** True when `bytes` ends with LF and starts a line. */
  whole: boolean;
  /** True when `bytes` starts a line (whole lines and first fragments). */
  start: boolean;
}

/** Longest line kept whole; longer lines pass through in pieces. */
export const MAX_LINE = 4096;

/**
 * Splits bytes into lines ending in LF (CRLF or a bare LF). A line longer
 * than `MAX_LINE` comes out in pieces as it arrives, so memory stays bounded
 * and nothing waits forever for an LF.
 */
export class LineSplitter {
  #pending: Uint8Array[] = [];
  #pendingLength = 0;
  /** Inside an overlong line: pass bytes until its LF. */
  #skipping = false;

  push(bytes: Uint8Array): LinePiece[] {
    const out: LinePiece[] = [];
    let from = 0;
    while (from < bytes.length) {
      const lf = bytes.indexOf(0x0a, from);
      const end = lf < 0 ? bytes.length : lf + 1;
      const piece = bytes.subarray(from, end);
      from = end;
      if (this.#skipping) {
        out.push({ bytes: piece.slice(), whole: false, start: false });
        if (lf >= 0) this.#skipping = false;
        continue;
      }
      this.#pending.push(piece);
      this.#pendingLength += piece.length;
      if (lf >= 0) {
        out.push({ bytes: this.#take(), whole: true, start: true });
      } else if (this.#pendingLength > MAX_LINE) {
        out.push({ bytes: this.#take(), whole: false, start: true });
        this.#skipping = true;
      }
    }
    return out;
  }

  /** At EOF: whatever is left, as a piece without LF. */
  flush(): LinePiece[] {
    if (this.#pendingLength === 0) return [];
    const start = !this.#skipping;
    return [{ bytes: this.#take(), whole: false, start }];
  }

  #take(): Uint8Array {
    const out = new Uint8Array(this.#pendingLength);
    let off = 0;
    for (const p of this.#pending) {
      out.set(p, off);
      off += p.length;
    }
    this.#pending = [];
    this.#pendingLength = 0;
    return out;
  }
}

/** A line's text without its CRLF/LF. */
export function lineText(bytes: Uint8Array): string {
  return latin1(bytes).replace(/\r?\n$/, "");
}

/** The line ending a line uses ("\r\n" or "\n"), "\r\n" if none. */
export function lineEnding(bytes: Uint8Array): string {
  const n = bytes.length;
  if (n > 0 && bytes[n - 1] === 0x0a) {
    return n > 1 && bytes[n - 2] === 0x0d ? "\r\n" : "\n";
  }
  return "\r\n";
}

/** Printable form of a line for log messages (bounded, no control chars). */
export function showLine(bytes: Uint8Array): string {
  const text = lineText(bytes.subarray(0, 120)).replace(/[^\x20-\x7e]/g, "?");
  return bytes.length > 120 ? `${text}...` : text;
}
