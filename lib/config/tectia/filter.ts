/**
 * `<filter-engine>`: Tectia's rules for its transparent tunneling, which
 * warren applies to the requests of its filtered SOCKS and HTTP proxy,
 * `<static-tunnels><tunnel type="socks-proxy">` (as Tectia's own SOCKS proxy
 * type does). Rules are tried in file order; the first that matches decides:
 *
 *   <rule host="REGEX" ip-address="REGEX" ports="N|LOW-HIGH"
 *         action="TUNNEL|DIRECT|BLOCK" profile-id="ID"/>
 *
 * - `host` is matched against the destination as the client gave it (a name,
 *   or an address when there is no `ip-address`); `ip-address` against a
 *   destination given as an address. Both are whole-text, case-insensitive
 *   regular expressions: `.*\.example\.com`, `10\.1\..*`. Without either a
 *   rule matches every destination; warren never resolves a name to match.
 * - TUNNEL goes through the connection of `profile-id` (required); DIRECT
 *   connects from this machine; BLOCK refuses. A request no rule matches is
 *   refused too: nothing goes direct unless a rule says so.
 * - What warren cannot do is an error rather than a rule silently applied to
 *   more traffic than written: `application` (a proxy cannot see which
 *   program connects), pseudo IPs, FTP-TUNNEL and FTP-PROXY, destination and
 *   user overrides, fallback-to-plain, and the legacy `<network>`, `<dns>`
 *   and `<filter>` elements.
 */
import type { FilterRuleConfig } from "./model.ts";
import { ElementUnreadable, type ReadContext } from "./read_context.ts";
import type { XmlElement } from "./xml_tree.ts";
import { portRange, type Route, type RouteAction } from "../routes.ts";

const RULE_ATTRS = [
  "application",
  "host",
  "ip-address",
  "pseudo-ip",
  "ports",
  "action",
  "profile-id",
  "destination",
  "destination-port",
  "username",
  "hostname-from-app",
  "username-from-app",
  "fallback-to-plain",
  "show-sftp-server-banner",
];

const ACTIONS: Record<string, RouteAction | undefined> = {
  TUNNEL: "tunnel",
  DIRECT: "direct",
  BLOCK: "block",
  "FTP-TUNNEL": undefined,
  "FTP-PROXY": undefined,
};

const LEGACY = (why: string) => (child: XmlElement, ctx: ReadContext) =>
  ctx.fail(child.source, `<${child.name}> is not supported by warren: ${why}`);

export function readFilterEngine(ctx: ReadContext, el: XmlElement): FilterRuleConfig[] {
  const a = ctx.attrs(el, ["ip-generate-start", "ip6-generate-start", "ftp-filter-at-signs"]);
  for (const name of ["ip-generate-start", "ip6-generate-start"]) {
    if (a.has(name)) a.unsupported(name, "it hands out no pseudo IPs", "warning");
  }
  if (a.has("ftp-filter-at-signs")) {
    a.unsupported("ftp-filter-at-signs", "it does no FTP-SFTP conversion", "warning");
  }
  const rules: FilterRuleConfig[] = [];
  const legacy = LEGACY("use <rule> elements");
  ctx.children(el, {
    rule: (r) => rules.push(readRule(ctx, r)),
    network: (c) => legacy(c, ctx),
    dns: (c) => legacy(c, ctx),
    filter: (c) => legacy(c, ctx),
  });
  return rules;
}

function readRule(ctx: ReadContext, el: XmlElement): FilterRuleConfig {
  const a = ctx.attrs(el, RULE_ATTRS);
  ctx.children(el, {});
  // A Tectia rule attribute warren cannot honour: the rule would apply to other traffic.
  const refuse = (name: string, why: string): never => {
    a.unsupported(name, why);
    throw new ElementUnreadable();
  };
  const app = a.str("application");
  if (app !== undefined && app !== "" && app !== ".*") {
    refuse(
      "application",
      "warren's proxy cannot see which program connects, so this rule would apply to all",
    );
  }
  if (a.bool("pseudo-ip", false)) {
    refuse(
      "pseudo-ip",
      "warren hands out no pseudo IPs (clients that send names, socks5h:// " +
        "or socks4a, let the SSH server resolve them)",
    );
  }
  for (const name of ["hostname-from-app", "username-from-app"]) {
    if (a.bool(name, false)) {
      refuse(name, "its rules reach the SSH server of profile-id, with that profile's user");
    }
  }
  for (const name of ["destination", "destination-port", "username"]) {
    const v = a.str(name);
    if (v !== undefined && v !== "") refuse(name, "warren does not rewrite destinations or users");
  }
  if (a.bool("fallback-to-plain", false)) {
    refuse(
      "fallback-to-plain",
      "warren never sends a tunneled connection in clear when the tunnel fails " +
        "(write a DIRECT rule if that destination may go without SSH)",
    );
  }
  if (a.has("show-sftp-server-banner")) a.bool("show-sftp-server-banner", false);
  const actionText = a.required("action");
  const key = Object.keys(ACTIONS).find((k) => k === actionText.toUpperCase());
  if (key === undefined) return a.bad("action", actionText, Object.keys(ACTIONS).join(", "));
  const action = ACTIONS[key];
  if (action === undefined) {
    return refuse("action", "its proxy carries TCP; use an ftp/ tunnel for FTP");
  }
  const rule: FilterRuleConfig = { action, source: el.source };
  for (const [name, field] of [["host", "host"], ["ip-address", "ipAddress"]] as const) {
    const v = a.str(name);
    if (v === undefined || v === "") continue;
    try {
      wholeText(v);
    } catch (err) {
      ctx.fail(a.source(name), `${name}: not a regular expression: ${(err as Error).message}`);
    }
    rule[field] = v;
  }
  const ports = a.str("ports");
  if (ports !== undefined && ports !== "") {
    try {
      rule.ports = portRange(ports.split("-").map((p) => p.trim()).join("-"));
    } catch {
      a.bad("ports", ports, "a port or a range LOW-HIGH within 1-65535");
    }
  }
  const profile = a.str("profile-id");
  if (action === "tunnel") {
    if (profile === undefined || profile === "") {
      return ctx.fail(
        el.source,
        'a TUNNEL rule needs profile-id="..." (the connection to tunnel through)',
      );
    }
    rule.profileId = profile;
  } else if (profile !== undefined && profile !== "") {
    ctx.warn(a.source("profile-id"), `profile-id has no use on a ${key} rule (ignored)`);
  }
  return rule;
}

/** A rule's expression, matching the whole text and ignoring case; throws if it is not one. */
function wholeText(source: string): RegExp {
  return new RegExp(`^(?:${source})$`, "i");
}

/** The rules as the proxy's routes. */
export function filterRoutes(rules: readonly FilterRuleConfig[]): Route[] {
  return rules.map((r) => {
    const route: Route = {
      action: r.action,
      text: `<rule> at ${r.source.line}:${r.source.col}`,
      label: `the <filter-engine> rule at ${r.source.file}:${r.source.line}:${r.source.col}`,
      host: {
        name: r.host === undefined ? undefined : wholeText(r.host),
        address: r.ipAddress === undefined ? undefined : wholeText(r.ipAddress),
      },
    };
    if (r.ports) route.ports = r.ports;
    if (r.profileId !== undefined) route.profile = r.profileId;
    return route;
  });
}
