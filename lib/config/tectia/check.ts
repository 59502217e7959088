/**
 * Checks across elements, once everything is read: profile ids and names
 * are unique, every gateway-profile and static tunnel names an existing
 * profile, gateway chains have no cycle, and no two tunnels that would be
 * open together listen on the same address and port.
 */
import type { BrokerConfig, ProfileConfig, Source, TunnelConfig } from "./model.ts";
import type { ReadContext } from "./read_context.ts";
import type { XmlElement } from "./xml_tree.ts";

/** Where each profile and static tunnel came from, in file order. */
export interface Origins {
  profiles: XmlElement[];
  staticTunnels: XmlElement[];
  /** Profiles that could not be read (their mistakes are reported already), with their ids. */
  unreadable: { id: string; el: XmlElement }[];
}

const at = (s: Source) => `${s.line}:${s.col}`;
const attrSource = (el: XmlElement, name: string): Source =>
  el.attrs.find((a) => a.name === name)?.source ?? el.source;

export function checkBrokerConfig(ctx: ReadContext, config: BrokerConfig, origins: Origins): void {
  const { profiles } = config;
  const byId = new Map<string, ProfileConfig>();
  profiles.forEach((p) => byId.has(p.id) || byId.set(p.id, p));
  // Duplicate ids among every profile element, read or not, in file order.
  const ids = [
    ...profiles.map((p, i) => ({ id: p.id, el: origins.profiles[i] })),
    ...origins.unreadable,
  ].sort((a, b) => a.el.source.line - b.el.source.line || a.el.source.col - b.el.source.col);
  const firstById = new Map<string, XmlElement>();
  for (const { id, el } of ids) {
    const first = firstById.get(id);
    if (first) {
      ctx.report(
        attrSource(el, "id"),
        `duplicate profile id '${id}' (first at ${at(first.source)})`,
      );
    } else firstById.set(id, el);
  }
  const byName = new Map<string, ProfileConfig>();
  profiles.forEach((p, i) => {
    if (p.name === undefined) return;
    const first = byName.get(p.name);
    if (first) {
      ctx.report(
        attrSource(origins.profiles[i], "name"),
        `duplicate profile name '${p.name}' (first at ${at(first.source)})`,
      );
    }
    const other = byId.get(p.name);
    if (other && other !== p) {
      ctx.report(
        attrSource(origins.profiles[i], "name"),
        `profile name '${p.name}' is the id of the profile at ${at(other.source)}: ` +
          "as a target it would be ambiguous",
      );
    }
    byName.set(p.name, p);
  });
  const exists = (id: string) => byId.has(id) || origins.unreadable.some((u) => u.id === id);
  const missing = (id: string) => {
    const named = byName.get(id);
    return `no profile has the id '${id}'` +
      (named ? ` (the profile named '${id}' has id '${named.id}')` : "");
  };
  profiles.forEach((p, i) => {
    if (p.gatewayProfile !== undefined && !exists(p.gatewayProfile)) {
      ctx.report(
        attrSource(origins.profiles[i], "gateway-profile"),
        `gateway-profile: ${missing(p.gatewayProfile)}`,
      );
    }
  });
  checkCycles(ctx, profiles, byId, origins);
  config.staticTunnels.forEach((t, i) => {
    if (!t.filtered && !exists(t.profile)) {
      ctx.report(attrSource(origins.staticTunnels[i], "profile"), `profile: ${missing(t.profile)}`);
    }
  });
  checkFilter(ctx, config, (id) => exists(id) ? undefined : missing(id));
  // Listeners open together: static tunnels and the local tunnels of profiles
  // that connect at start; and within each profile, its own tunnels.
  checkListeners(ctx, [
    ...config.staticTunnels,
    ...profiles.filter((p) => p.connectOnStartup).flatMap((p) =>
      p.tunnels.filter((t) => t.direction === "local")
    ),
  ]);
  for (const p of profiles) {
    checkListeners(ctx, p.tunnels.filter((t) => t.direction === "local"));
    checkListeners(ctx, p.tunnels.filter((t) => t.direction === "remote" && t.listenPort !== 0));
  }
}

/** The filter rules and the socks-proxy tunnels they serve need each other. */
function checkFilter(
  ctx: ReadContext,
  config: BrokerConfig,
  missing: (id: string) => string | undefined,
): void {
  for (const r of config.filterRules) {
    const why = r.profileId === undefined ? undefined : missing(r.profileId);
    if (why) ctx.report(r.source, `profile-id: ${why}`);
  }
  const proxy = config.staticTunnels.find((t) => t.filtered);
  if (config.filterRules.length > 0 && !proxy) {
    ctx.report(
      config.filterRules[0].source,
      "warren does not tunnel applications transparently: <filter-engine> rules route the " +
        'requests of a <static-tunnels><tunnel type="socks-proxy"> only, and there is none ' +
        "(without one this traffic would go direct)",
    );
  }
  if (proxy && config.filterRules.length === 0) {
    ctx.report(
      proxy.source,
      'a type="socks-proxy" tunnel refuses every request no <filter-engine> rule matches, ' +
        "and there are no rules",
    );
  }
}

function checkCycles(
  ctx: ReadContext,
  profiles: ProfileConfig[],
  byId: Map<string, ProfileConfig>,
  origins: Origins,
): void {
  for (const start of profiles) {
    const path: ProfileConfig[] = [];
    for (let p: ProfileConfig | undefined = start; p; p = byId.get(p.gatewayProfile ?? "")) {
      const seen = path.indexOf(p);
      if (seen !== -1) {
        const cycle = path.slice(seen);
        // Report at the member that comes first in the file.
        const first = profiles.find((q) => cycle.includes(q))!;
        const from = cycle.indexOf(first);
        const names = [...cycle.slice(from), ...cycle.slice(0, from), first].map((q) => q.id);
        ctx.report(
          attrSource(origins.profiles[profiles.indexOf(first)], "gateway-profile"),
          `gateway-profile cycle: ${names.join(" -> ")}`,
        );
        break;
      }
      path.push(p);
      if (p.gatewayProfile === undefined) break;
    }
  }
}

function checkListeners(ctx: ReadContext, tunnels: TunnelConfig[]): void {
  const seen = new Map<string, TunnelConfig>();
  const inFileOrder = [...tunnels].sort((a, b) =>
    a.source.line - b.source.line || a.source.col - b.source.col
  );
  for (const t of inFileOrder) {
    const address = t.listenAddress ?? (t.allowRelay ? "every interface" : "loopback");
    const key = `${t.direction} ${address.toLowerCase()} ${t.listenPort}`;
    const first = seen.get(key);
    if (first) {
      ctx.report(
        t.source,
        `listen port ${t.listenPort} (${address}) is already used by the tunnel at ${
          at(first.source)
        }`,
      );
    }
    seen.set(key, t);
  }
}
