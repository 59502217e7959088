/**
 * Routing rules for proxy tunnels (`--route`), in place of Tectia's
 * transparent tunneling: for each SOCKS or HTTP proxy request, the first rule
 * whose pattern matches the requested destination decides what happens.
 *
 *   tunnel  through the SSH connection (direct-tcpip; the server resolves
 *           and connects), what a proxy tunnel does without rules
 *   direct  from this machine, bypassing SSH (names resolved here)
 *   block   refused with the protocol's "not allowed" reply (SOCKS5 0x02,
 *           SOCKS4 0x5B, HTTP 403)
 *
 * A rule is `ACTION:PATTERN[:PORTS]`:
 *   - PATTERN `*` is any destination; `address/bits` (IPv6 in brackets,
 *     `[fd00::]/8`) matches a destination given as an address in that
 *     block; anything else is a wildcard pattern (`*`, `?`, case ignored)
 *     matched against the destination as the client wrote it, a name or an
 *     address: `*.corp.example.com`, `intranet`, `192.168.*`, `[::1]`.
 *   - PORTS is a port or a range `LOW-HIGH`; without it, every port.
 * Names are never resolved to match an address block: a client asking for
 * `db.internal` matches name patterns only. No rule matching means tunnel.
 *
 * The broker builds the same rules from Tectia's `<filter-engine><rule>`
 * (regular expressions for the host and the address, and a profile to
 * tunnel through); see lib/config/tectia/filter.ts.
 */
import { type BlockList, isIP } from "node:net";
import { wildcardMatch } from "./known_hosts.ts";
import { inBlock, normalizeAddress, parseCidr } from "../net/cidr.ts";

export type RouteAction = "tunnel" | "direct" | "block";
const ACTIONS: readonly RouteAction[] = ["tunnel", "direct", "block"];

export interface Route {
  action: RouteAction;
  /** The rule as written. */
  text: string;
  /** How logs and refusals name it (default `--route TEXT`). */
  label?: string;
  host:
    | { any: true }
    | { block: BlockList; cidr?: string }
    | { wildcard: string }
    /** Whole-text regular expressions: `name` for any destination, `address` for addresses. */
    | { name?: RegExp; address?: RegExp };
  ports?: { low: number; high: number };
  /** For tunnel: the profile whose connection carries it (broker rules). */
  profile?: string;
}

/** Parse one rule; throws an Error naming what is wrong. */
export function parseRoute(text: string): Route {
  const colon = text.indexOf(":");
  const action = text.slice(0, colon).toLowerCase() as RouteAction;
  if (colon < 0 || !ACTIONS.includes(action)) {
    throw new Error("expected ACTION:PATTERN[:PORTS] with ACTION tunnel, direct or block");
  }
  let rest = text.slice(colon + 1);
  let pattern: string;
  if (rest.startsWith("[")) {
    const close = rest.indexOf("]");
    if (close < 0) throw new Error("unclosed '[' in the pattern");
    const slash = /^\/\d+/.exec(rest.slice(close + 1))?.[0] ?? "";
    pattern = rest.slice(1, close) + slash;
    rest = rest.slice(close + 1 + slash.length);
    if (rest !== "" && !rest.startsWith(":")) throw new Error("expected ':' after ']'");
    rest = rest.slice(1);
  } else {
    const c = rest.indexOf(":");
    pattern = c < 0 ? rest : rest.slice(0, c);
    rest = c < 0 ? "" : rest.slice(c + 1);
  }
  if (pattern === "") throw new Error("empty pattern (use * for any destination)");
  const route: Route = { action, text, host: hostPattern(pattern.toLowerCase()) };
  if (rest !== "") route.ports = portRange(rest);
  else if (text.endsWith(":")) throw new Error("empty port range");
  return route;
}

function hostPattern(pattern: string): Route["host"] {
  if (pattern === "*") return { any: true };
  if (pattern.includes("/")) {
    try {
      return { block: parseCidr(pattern), cidr: pattern };
    } catch (err) {
      throw new Error(`'${pattern}': ${(err as Error).message}`);
    }
  }
  return { wildcard: pattern };
}

/** "N" or "LOW-HIGH" within 1-65535; throws an Error naming the text otherwise. */
export function portRange(text: string): { low: number; high: number } {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  const low = Number(m?.[1]);
  const high = m?.[2] === undefined ? low : Number(m[2]);
  if (!m || low < 1 || high > 65535 || low > high) {
    throw new Error(`'${text}' is not a port or a range LOW-HIGH within 1-65535`);
  }
  return { low, high };
}

/** The first rule matching `host:port`, or undefined when none does. */
export function matchRoute(
  routes: readonly Route[],
  host: string,
  port: number,
): Route | undefined {
  const name = normalizeAddress(host.replace(/^\[(.*)\]$/, "$1"));
  return routes.find((r) => {
    if (r.ports && (port < r.ports.low || port > r.ports.high)) return false;
    if ("any" in r.host) return true;
    if ("block" in r.host) return inBlock(r.host.block, name);
    if ("wildcard" in r.host) return wildcardMatch(name, r.host.wildcard);
    // Tectia's order: the address expression for an address, else the host one.
    const { name: byName, address } = r.host;
    if (address && isIP(name) !== 0) return address.test(name);
    return byName ? byName.test(name) : !address;
  });
}
