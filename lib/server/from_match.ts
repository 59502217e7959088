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
import type { BlockList } from "node:net";
import { wildcardMatch } from "../config/known_hosts.ts";
import { inBlock, normalizeAddress, parseCidr } from "../net/cidr.ts";

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
    if (text.includes("/")) out.push({ negated, text, cidr: cidrPattern(text) });
    else out.push({ negated, text, wildcard: text });
  }
  return out;
}

function cidrPattern(text: string): BlockList {
  try {
    return parseCidr(text);
  } catch (err) {
    throw new SyntaxError(`Invalid from= pattern '${text}': ${(err as Error).message}`);
  }
}

/** Whether the patterns admit a client at `ip`. */
export function fromAllows(patterns: FromPattern[], ip: string): boolean {
  const addr = normalizeAddress(ip);
  let admitted = false;
  for (const p of patterns) {
    const hit = "cidr" in p ? inBlock(p.cidr, addr) : wildcardMatch(addr, p.wildcard);
    if (!hit) continue;
    if (p.negated) return false;
    admitted = true;
  }
  return admitted;
}
