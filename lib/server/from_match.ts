/**
 * The authorized_keys option `from="pattern-list"`: which client addresses may
 * use a key, as sshd matches it with `UseDNS no`.
 *
 * - The list is comma separated; `!pattern` negates. Any matching negated
 *   pattern refuses the client; otherwise one matching plain pattern admits it.
 * - `address/bits` is a CIDR block (IPv4 or IPv6); its host bits must be zero.
 * - Anything else is a wildcard pattern (`*`, `?`) matched against the address
 *   text: `192.168.1.*`, `*`. Host names are never looked up (no reverse DNS),
 *   so a name pattern like `*.example.com` matches nothing.
 * - An IPv4 client seen on a dual-stack socket (`::ffff:10.0.0.1`) is matched
 *   as `10.0.0.1`.
 */
import { BlockList, isIP } from "node:net";
import { wildcardMatch } from "../config/known_hosts.ts";

export type FromPattern =
  | { negated: boolean; text: string; cidr: BlockList }
  | { negated: boolean; text: string; wildcard: string };

/** Parse a pattern list; throws SyntaxError naming the bad pattern. */
export function parseFromPatterns(list: string): FromPattern[] {
  const out: FromPattern[] = [];
  for (const item of list.split(",")) {
    const negated = item.startsWith("!");
    const text = (negated ? item.slice(1) : item).toLowerCase();
    if (text === "") throw new SyntaxError(`Invalid from= pattern '${item}': empty`);
    if (text.includes("/")) out.push({ negated, text, cidr: parseCidr(text) });
    else out.push({ negated, text, wildcard: text });
  }
  return out;
}

function parseCidr(text: string): BlockList {
  const [address, bits, ...rest] = text.split("/");
  const family = isIP(address);
  const max = family === 4 ? 32 : 128;
  if (family === 0 || rest.length > 0 || !/^\d{1,3}$/.test(bits) || Number(bits) > max) {
    throw new SyntaxError(`Invalid from= pattern '${text}': not an address/bits block`);
  }
  const type = family === 4 ? "ipv4" : "ipv6";
  const block = new BlockList();
  block.addSubnet(address, Number(bits), type);
  // The block must name its network: 10.1.2.3/8 is a typo for 10.0.0.0/8 or 10.1.2.3/32.
  if (Number(bits) < max && !networkOnly(address, Number(bits), type)) {
    throw new SyntaxError(`Invalid from= pattern '${text}': host bits are set after /${bits}`);
  }
  return block;
}

function networkOnly(address: string, bits: number, type: "ipv4" | "ipv6"): boolean {
  const bytes = type === "ipv4" ? address.split(".").map(Number) : ipv6Bytes(address);
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - 8 * i));
    const mask = keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
    if ((bytes[i] & ~mask & 0xff) !== 0) return false;
  }
  return true;
}

function ipv6Bytes(address: string): number[] {
  let text = address;
  const tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1].split(".").map(Number);
    tail.push((a << 8) | b, (c << 8) | d);
    text = text.slice(0, -v4[1].length) + "0:0";
  }
  const [head, rest] = text.split("::");
  const groups = (s: string | undefined) => s ? s.split(":").filter((g) => g !== "") : [];
  const h = groups(head).map((g) => parseInt(g, 16));
  const r = rest === undefined ? [] : groups(rest).map((g) => parseInt(g, 16));
  const zeros = Array(8 - h.length - r.length).fill(0);
  const words = [...h, ...zeros, ...r];
  if (tail.length) words.splice(6, 2, ...tail);
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}

/** The client address as matched: IPv4-mapped IPv6 becomes plain IPv4. */
export function normalizeAddress(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return (mapped ? mapped[1] : ip).toLowerCase();
}

/** Whether the patterns admit a client at `ip`. */
export function fromAllows(patterns: FromPattern[], ip: string): boolean {
  const addr = normalizeAddress(ip);
  const family = isIP(addr);
  let admitted = false;
  for (const p of patterns) {
    const hit = "cidr" in p
      ? family !== 0 && p.cidr.check(addr, family === 4 ? "ipv4" : "ipv6")
      : wildcardMatch(addr, p.wildcard);
    if (!hit) continue;
    if (p.negated) return false;
    admitted = true;
  }
  return admitted;
}
