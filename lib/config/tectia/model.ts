/**
 * The model of an `ssh-broker-config.xml` after parsing, validation, defaults
 * and environment expansion. The XML reader (`load.ts`) produces it;
 * the broker, `warren ctl` and profile targets on the command line consume it;
 * `warren config dump` writes it back as XML.
 *
 * Every value here is final: defaults are filled in and `$VAR`/`%VAR%` are
 * expanded. `Source` keeps the FILE:LINE:COL an element came from, so errors
 * found later (a bind failure, a missing key file) can point at the config.
 */
import type { ProxyRule } from "../proxy_rules.ts";
import type { ForwardProtocol } from "../forward.ts";
import type { HostKeyPolicy } from "../host_key_policy.ts";
import type { RouteAction } from "../routes.ts";

/** Where an element was read from, for messages: `file:line:col`. */
export interface Source {
  file: string;
  line: number;
  col: number;
}

export type AuthMethod = "publickey" | "keyboard-interactive" | "password" | "hostbased" | "gssapi";

/** `<default-settings>` and the per-profile overrides of it. */
export interface Settings {
  /** Login name; undefined = the local user. */
  user?: string;
  /** Seconds; 0 = off. */
  keepaliveInterval: number;
  /** Seconds for TCP connect plus handshake; 0 = the OS default. */
  tcpConnectTimeout: number;
  /** Seconds a connection with no open channel stays up; 0 = close at once. */
  idleTimeout: number;
  hostKeyPolicy: HostKeyPolicy;
  /** Tried in this order; methods not listed are not tried. */
  authMethods: AuthMethod[];
  /** Preference lists; empty = warren's defaults. */
  ciphers: string[];
  macs: string[];
  kexs: string[];
  hostKeyAlgorithms: string[];
  /** `<compression name="zlib">`: ask for zlib@openssh.com (as ssh -C); absent = no. */
  compression?: boolean;
  /** `<proxy ruleset>`: how to reach the server (lib/config/proxy_rules.ts); absent = direct. */
  proxy?: { ruleset: string; rules: ProxyRule[] };
}

/** A `<local-tunnel>`, `<remote-tunnel>` or `<static-tunnels><tunnel>`. */
export interface TunnelConfig {
  direction: "local" | "remote";
  type: ForwardProtocol;
  /** Undefined = loopback (allow-relay=no) or every interface (yes). */
  listenAddress?: string;
  listenPort: number;
  /** Absent for socks. */
  dstHost?: string;
  dstPort?: number;
  /** yes: any client may connect; no (default): local clients only. */
  allowRelay: boolean;
  /** type="socks-proxy" (static tunnels only): a socks tunnel routed by the filter rules. */
  filtered?: boolean;
  source: Source;
}

export interface StaticTunnelConfig extends TunnelConfig {
  direction: "local";
  /** The id of the profile whose connection carries it ("" when filtered: the rules name them). */
  profile: string;
}

export interface ProfileConfig {
  id: string;
  /** Free text; also accepted as a command-line target. */
  name?: string;
  host: string;
  port: number;
  connectOnStartup: boolean;
  /** The id of the profile whose connection this one is tunneled through. */
  gatewayProfile?: string;
  /** `<hostkey file>`: a known_hosts-format or .pub file pinning the key. */
  hostKeyFile?: string;
  identityFiles: string[];
  /** `<password file|command>` as a password source (file://, extprog://). */
  passwordSource?: string;
  /** The defaults with this profile's overrides applied. */
  settings: Settings;
  tunnels: TunnelConfig[];
  source: Source;
}

export interface LoggingConfig {
  target: "file" | "syslog" | "discard" | "stderr";
  file?: string;
  /** The lowest severity logged. */
  severity: "debug" | "info" | "warning" | "error";
}

export interface BrokerConfig {
  /** The file it was read from. */
  file: string;
  /** `<general><known-hosts>`: read in order; new keys go to the first. */
  knownHostsFiles: string[];
  defaults: Settings;
  profiles: ProfileConfig[];
  staticTunnels: StaticTunnelConfig[];
  /** `<filter-engine>` rules, for the filtered (socks-proxy) static tunnels. */
  filterRules: FilterRuleConfig[];
  logging: LoggingConfig;
  /**
   * `FILE:LINE:COL: message` for each Tectia element or value warren reads
   * but does not implement and ignores (an unsupported one that matters is
   * an error instead). The broker and `warren config check` print them.
   */
  warnings?: string[];
}

/** The profile a command-line target names: by id first, then by name. */
export function findProfile(config: BrokerConfig, target: string): ProfileConfig | undefined {
  return config.profiles.find((p) => p.id === target) ??
    config.profiles.find((p) => p.name === target);
}

/**
 * The hops to reach `profile`, outermost first, ending with the profile
 * itself: [gateway of gateway, gateway, profile]. The reader has already
 * refused missing gateways and cycles.
 */
export function gatewayChain(config: BrokerConfig, profile: ProfileConfig): ProfileConfig[] {
  const chain = [profile];
  for (let p = profile; p.gatewayProfile !== undefined;) {
    const next = config.profiles.find((q) => q.id === p.gatewayProfile);
    if (!next || chain.includes(next)) break;
    chain.unshift(next);
    p = next;
  }
  return chain;
}

/** One rule of `<filter-engine>`, as read; filterRoutes() turns it into a Route. */
export interface FilterRuleConfig {
  action: RouteAction;
  /** Regular expression sources, as written. */
  host?: string;
  ipAddress?: string;
  ports?: { low: number; high: number };
  /** For tunnel: the profile whose connection carries it. */
  profileId?: string;
  source: Source;
}
