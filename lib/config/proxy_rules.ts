/**
 * Tectia's proxy rule set (`<proxy ruleset="...">` in `<default-settings>`
 * or a profile): how to reach an SSH server, chosen by the server's address.
 *
 *   RULE[;RULE...]
 *   RULE = TYPE://[USER@]SERVER[:PORT][/CONDITIONS]   (or `(CONDITIONS)` after it)
 *        | direct://[CONDITIONS] | direct[(CONDITIONS)]
 *   TYPE = direct | socks4 | socks5 | http-connect
 *   CONDITIONS = CONDITION[,CONDITION...]
 *   CONDITION  = PATTERN[:PORTS]
 *
 * - PATTERN: an IPv4 address, a range `a.b.c.d-e.f.g.h`, a block
 *   `a.b.c.d/bits`, or a host name pattern with `*` and `?` (case ignored).
 *   PORTS: a port or a range `LOW-HIGH`. A rule without conditions matches
 *   every server.
 * - The first rule that matches the server's host and port decides; none
 *   matching means a direct connection.
 * - As with `--route`, a name is never resolved to match an address
 *   condition: a server written as a name matches name patterns only.
 * - SOCKS ports default to 1080; http-connect needs its port. A user name
 *   is sent as SOCKS4's user id, SOCKS5's user (empty password) or HTTP
 *   Basic's (empty password).
 */
import { type BlockList, isIP } from "node:net";
import { wildcardMatch } from "./known_hosts.ts";
import { inBlock, normalizeAddress, parseCidr } from "../net/cidr.ts";
import { portRange } from "./routes.ts";
import type { ProxyUrl } from "./proxy_url.ts";

type Pattern =
  | { block: BlockList }
  | { from: number; to: number }
  | { wildcard: string };

export interface ProxyCondition {
  pattern: Pattern;
  ports?: { low: number; high: number };
}

export interface ProxyRule {
  /** The rule as written. */
  text: string;
  /** Undefined: connect directly. */
  proxy?: ProxyUrl;
  /** Empty: every server. */
  conditions: ProxyCondition[];
}

const TYPES: Record<string, ProxyUrl["scheme"] | "direct"> = {
  direct: "direct",
  socks4: "socks4",
  socks: "socks4",
  socks5: "socks5",
  "http-connect": "http",
  http: "http",
};

function ipv4Number(text: string): number | undefined {
  if (isIP(text) !== 4) return undefined;
  return text.split(".").reduce((n, part) => n * 256 + Number(part), 0);
}

function parseCondition(text: string): ProxyCondition {
  // `a.b.c.d/8:22` or `name:22-80`: the last `:` starts the ports.
  const m = /^(.*?)(?::([\d-]+))?$/.exec(text)!;
  const [, pat, ports] = m;
  if (pat === "") throw new Error(`empty condition '${text}'`);
  const condition: ProxyCondition = { pattern: parsePattern(pat) };
  if (ports !== undefined) condition.ports = portRange(ports);
  return condition;
}

function parsePattern(text: string): Pattern {
  if (text.includes("/")) {
    try {
      return { block: parseCidr(text) };
    } catch (err) {
      throw new Error(`bad address block '${text}': ${(err as Error).message}`);
    }
  }
  const range = /^([\d.]+)-([\d.]+)$/.exec(text);
  if (range) {
    const [from, to] = [ipv4Number(range[1]), ipv4Number(range[2])];
    if (from === undefined || to === undefined || from > to) {
      throw new Error(`bad address range '${text}'`);
    }
    return { from, to };
  }
  if (!/^[A-Za-z0-9_.*?-]+$/.test(text)) throw new Error(`bad host pattern '${text}'`);
  return { wildcard: text.toLowerCase() };
}

function parseRule(text: string): ProxyRule {
  const m = /^([A-Za-z0-9-]+)(?::\/\/(.*)|\s*(\(.*\))?)$/.exec(text);
  if (!m) throw new Error(`cannot read rule '${text}' (expected TYPE://SERVER:PORT/CONDITIONS)`);
  const typeName = m[1].toLowerCase();
  const type = TYPES[typeName];
  if (type === undefined) {
    throw new Error(
      `unknown rule type '${typeName}' in '${text}' (known: direct, socks4, socks5, http-connect)`,
    );
  }
  let rest = m[2] ?? m[3] ?? "";
  let authority = "";
  if (type !== "direct") {
    const end = rest.search(/[/(]/);
    authority = end < 0 ? rest : rest.slice(0, end);
    rest = end < 0 ? "" : rest.slice(end);
  }
  // Conditions: after a `/`, or in parentheses.
  const wrapped = /^\s*\((.*)\)\s*$/.exec(rest);
  const conditionText = wrapped ? wrapped[1] : rest.replace(/^\//, "");
  if (/[()]/.test(conditionText)) throw new Error(`cannot read the conditions of '${text}'`);
  const conditions = conditionText.split(",").map((c) => c.trim()).filter((c) => c !== "")
    .map(parseCondition);
  const rule: ProxyRule = { text, conditions };
  if (type === "direct") return rule;
  const at = authority.lastIndexOf("@");
  const user = at < 0 ? undefined : authority.slice(0, at);
  const hp = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(authority.slice(at + 1));
  if (!hp) throw new Error(`missing or bad proxy server in '${text}'`);
  const port = hp[3] === undefined ? (type === "http" ? undefined : 1080) : Number(hp[3]);
  if (port === undefined) throw new Error(`http-connect needs the proxy's port: '${text}'`);
  if (port < 1 || port > 65535) throw new Error(`port ${port} out of range in '${text}'`);
  rule.proxy = { scheme: type, host: hp[1] ?? hp[2], port };
  if (user) rule.proxy.user = user;
  return rule;
}

/** Parse a rule set; throws an Error naming the rule that is wrong. */
export function parseProxyRules(ruleset: string): ProxyRule[] {
  return ruleset.split(";").map((r) => r.trim()).filter((r) => r !== "").map(parseRule);
}

function conditionMatches(c: ProxyCondition, host: string, port: number): boolean {
  if (c.ports && (port < c.ports.low || port > c.ports.high)) return false;
  const p = c.pattern;
  if ("block" in p) return inBlock(p.block, host);
  if ("from" in p) {
    const n = ipv4Number(host);
    return n !== undefined && n >= p.from && n <= p.to;
  }
  return wildcardMatch(host.toLowerCase(), p.wildcard);
}

/** The first rule matching the server `host:port`; undefined = none (direct). */
export function selectProxyRule(
  rules: readonly ProxyRule[],
  host: string,
  port: number,
): ProxyRule | undefined {
  const name = normalizeAddress(host.replace(/^\[(.*)\]$/, "$1"));
  return rules.find((r) =>
    r.conditions.length === 0 || r.conditions.some((c) => conditionMatches(c, name, port))
  );
}
