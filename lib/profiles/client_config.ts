/**
 * The settings of one client run: what to connect to, how to authenticate and
 * verify, and which tunnels to open. The command line compiles into this type
 * (later the XML profiles will too), and defaults are applied once, here.
 */
import type { ForwardSpec } from "../config/forward.ts";
import type { HostKeyPolicy } from "../config/host_key_policy.ts";
import type { ConnectOptions } from "../ssh/connection.ts";
import type { AuthMethodName } from "../ssh/auth.ts";
import type { Route } from "../config/routes.ts";
import type { ProxyUrl } from "../config/proxy_url.ts";
import type { ProxyRule } from "../config/proxy_rules.ts";

export interface ClientConfig {
  host: string;
  port: number;
  user: string;
  /** Explicit identity files (-i, IdentityFile); empty = the default ones. */
  identityFiles: string[];
  /** A password source: file://PATH, env://VAR or extprog://COMMAND. */
  passwordSource?: string;
  batchMode: boolean;
  hostKeyPolicy: HostKeyPolicy;
  /** Read in order; new keys go to the first. */
  knownHostsFiles: string[];
  /** Seconds; 0 disables keepalive. */
  serverAliveInterval: number;
  serverAliveCountMax: number;
  /** Seconds for the TCP connect and the SSH handshake up to the host key. */
  connectTimeout: number;
  gateway: boolean;
  /** --proxy-auth for socks/ tunnels: the user and where the password is. */
  proxyAuth?: { user: string; source: string };
  /** --route for socks/ tunnels, in order. */
  routes?: Route[];
  /** --no-proxy-env: in `--` mode, do not hand the first socks/ tunnel to the command. */
  noProxyEnv?: boolean;
  /** --ftp-trust-pasv-address: ftp/ passive data goes where a 227 says, not to dst-host. */
  ftpTrustPasvAddress?: boolean;
  abortOnFailingTunnel: boolean;
  localForwards: ForwardSpec[];
  remoteForwards: ForwardSpec[];
  background: boolean;
  oneShot: boolean;
  pidFile?: string;
  /** The local command after `--`, if any. */
  command?: string[];
  /** -o Ciphers: the cipher preference; undefined = warren's default. */
  ciphers?: string[];
  /** A profile's MAC, key exchange and host key algorithm preferences. */
  macs?: string[];
  kexs?: string[];
  hostKeyAlgorithms?: string[];
  /** -o PreferredAuthentications or a profile's methods, in order; undefined = OpenSSH's. */
  authMethods?: AuthMethodName[];
  /** -q = -1, default 0, each -v adds one; -D LEVEL maps onto it. */
  verbosity: number;
  /** A profile target's gateway-profile chain, outermost first: connect through these. */
  gateways?: ConnectOptions[];
  /**
   * -J / ProxyJump: jump hosts, outermost first, reached with the target's
   * keys, known hosts and policies. When set (even empty, `-J none`) it
   * replaces a profile's gateway chain.
   */
  jumps?: { host: string; port: number; user: string }[];
  /** -o ProxyCommand: the transport is this command (%h %p %r %% not yet expanded). */
  proxyCommand?: string;
  /** --proxy / -o ProxyUrl: reach the first hop through this proxy. */
  proxy?: ProxyUrl;
  /** --proxy-password: where the proxy user's password is (as -P). */
  proxyPasswordSource?: string;
  /** IdentitiesOnly: offer only the identity files, not the agent's keys. */
  identitiesOnly?: boolean;
  /** -C, -o Compression=yes, `<compression name="zlib">`: ask for zlib@openssh.com. */
  compression?: boolean;
  /** A profile's `<proxy ruleset>`: how to reach its server (unless --proxy says otherwise). */
  proxyRules?: readonly ProxyRule[];
  /** --proxy none / -o ProxyUrl=none: connect directly whatever a profile's rules say. */
  noProxy?: boolean;
  /** What reading the settings found worth saying (ssh_config's Match blocks). */
  warnings?: string[];
}

/** A profile target's settings, under the command line's (target.ts). */
export type ProfileLayer = Partial<ClientConfig> & { host: string };

/** A config file's defaults for a host target: the host comes from the command line. */
export type SettingsLayer = Partial<ClientConfig> & { host?: undefined };

export const DEFAULTS = {
  port: 22,
  serverAliveInterval: 30,
  serverAliveCountMax: 3,
  connectTimeout: 15,
  hostKeyPolicy: "ask" as HostKeyPolicy,
};
