/**
 * Address blocks written `address/bits` (IPv4 or IPv6), shared by the
 * authorized_keys `from=` option and the proxy's routing rules.
 *
 * The block must name its network: `10.1.2.3/8` is refused (a typo for
 * `10.0.0.0/8` or `10.1.2.3/32`). Addresses are matched after an IPv4 address
 * seen on a dual-stack socket (`::ffff:10.0.0.1`) is turned back into plain
 * IPv4.
 */
import { BlockList, isIP } from "node:net";

/** Parse `address/bits`; throws an Error saying what is wrong with it. */
export function parseCidr(text: string): BlockList {
  const [address, bits, ...rest] = text.split("/");
  const family = isIP(address);
  const max = family === 4 ? 32 : 128;
  if (family === 0 || rest.length > 0 || !/^\d{1,3}$/.test(bits) || Number(bits) > max) {
    throw new Error("not an address/bits block");
  }
  const type = family === 4 ? "ipv4" : "ipv6";
  const block = new BlockList();
  block.addSubnet(address, Number(bits), type);
  if (Number(bits) < max && !networkOnly(address, Number(bits), type)) {
    throw new Error(`host bits are set after /${bits}`);
  }
  return block;
}

/** Whether `ip` (any text) is an address inside `block`. */
export function inBlock(block: BlockList, ip: string): boolean {
  const addr = normalizeAddress(ip);
  const family = isIP(addr);
  return family !== 0 && block.check(addr, family === 4 ? "ipv4" : "ipv6");
}

/** An address as matched: lower case, IPv4-mapped IPv6 as plain IPv4. */
export function normalizeAddress(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return (mapped ? mapped[1] : ip).toLowerCase();
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
