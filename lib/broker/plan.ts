/**
 * What the broker should be running for a config, as pure functions that
 * start and reload share:
 *
 * - wantedListeners(config): every static tunnel, and the `<tunnels>` of
 *   connect-on-startup profiles, each with a key saying what it is (origin,
 *   profile id, direction, spec). Reload keeps a listener whose key is still
 *   wanted; identical tunnels get #2, #3... so each is its own listener.
 * - changedProfiles(old, new): profiles whose connection settings changed or
 *   that went away, and those reached through such a gateway.
 */
import { formatForward, type ForwardSpec } from "../config/forward.ts";
import {
  type BrokerConfig,
  gatewayChain,
  type ProfileConfig,
  type Source,
} from "../config/tectia/model.ts";
import { forwardSpecOf } from "../profiles/connect.ts";
import { filterRoutes } from "../config/tectia/filter.ts";
import type { Route } from "../config/routes.ts";

/** Where a listener comes from: reload only touches static and profile ones. */
export type ListenerOrigin = "static" | "profile" | "ctl";

export interface Wanted {
  key: string;
  origin: ListenerOrigin;
  profile: string;
  direction: "local" | "remote";
  spec: ForwardSpec;
  /** A filtered (socks-proxy) tunnel's routes, from <filter-engine>. */
  routes?: Route[];
  source?: Source;
}

export function wantedListeners(config: BrokerConfig): Wanted[] {
  const wanted: Wanted[] = [
    ...config.staticTunnels.map((t): Wanted => ({
      key: "",
      origin: "static",
      profile: t.profile,
      direction: "local",
      spec: forwardSpecOf(t),
      ...(t.filtered ? { routes: filterRoutes(config.filterRules) } : {}),
      source: t.source,
    })),
    ...config.profiles.filter((p) => p.connectOnStartup).flatMap((p) =>
      p.tunnels.map((t): Wanted => ({
        key: "",
        origin: "profile",
        profile: p.id,
        direction: t.direction,
        spec: forwardSpecOf(t),
        source: t.source,
      }))
    ),
  ];
  const seen = new Map<string, number>();
  for (const w of wanted) {
    // A filtered tunnel whose rules changed is a new listener.
    const rules = w.routes ? [config.filterRules.map(({ source: _s, ...rule }) => rule)] : [];
    const base = JSON.stringify([
      w.origin,
      w.profile,
      w.direction,
      formatForward(w.spec),
      ...rules,
    ]);
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    w.key = n === 1 ? base : `${base}#${n}`;
  }
  return wanted;
}

/** What decides a profile's connection (not its tunnels, name, or where it was read). */
function connectionIdentity(p: ProfileConfig, config: BrokerConfig): string {
  const { source: _s, tunnels: _t, connectOnStartup: _c, name: _n, ...rest } = p;
  return JSON.stringify([rest, config.knownHostsFiles]);
}

export function changedProfiles(old: BrokerConfig, config: BrokerConfig): Set<string> {
  const changed = new Set<string>();
  for (const p of old.profiles) {
    const q = config.profiles.find((x) => x.id === p.id);
    if (!q || connectionIdentity(p, old) !== connectionIdentity(q, config)) changed.add(p.id);
  }
  for (const p of config.profiles) {
    if (gatewayChain(config, p).some((hop) => changed.has(hop.id))) changed.add(p.id);
  }
  return changed;
}

/** "FILE:LINE:COL: " for a message, or "". */
export function placeOf(source: Source | undefined): string {
  return source ? `${source.file}:${source.line}:${source.col}: ` : "";
}
