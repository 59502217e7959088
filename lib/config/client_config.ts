/**
 * The settings of one client run: what to connect to, how to authenticate and
 * verify, and which tunnels to open. The command line compiles into this type
 * (later the XML profiles will too), and defaults are applied once, here.
 */
import type { ForwardSpec } from "../cli/forward.ts";
import type { HostKeyPolicy } from "../ssh/host_key.ts";
import type { ConnectOptions } from "../ssh/connection.ts";
import type { AuthMethodName } from "../ssh/auth.ts";
import type { Route } from "../tunnel/routes.ts";

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
}

export const DEFAULTS = {
  port: 22,
  serverAliveInterval: 30,
  serverAliveCountMax: 3,
  connectTimeout: 15,
  hostKeyPolicy: "ask" as HostKeyPolicy,
};

/** The user's home directory, from the environment (no extra permission). */
export function homeDir(env: (name: string) => string | undefined): string {
  return env("HOME") ?? env("USERPROFILE") ?? ".";
}

/** The local user name, for the default login name. */
export function localUser(env: (name: string) => string | undefined): string {
  return env("USER") ?? env("USERNAME") ?? env("LOGNAME") ?? "root";
}

/** The default identity files, in OpenSSH's order of preference. */
export function defaultIdentityFiles(home: string): string[] {
  return ["id_ed25519", "id_ecdsa", "id_rsa"].map((n) => `${home}/.ssh/${n}`);
}

/** The default known_hosts files: the user's (written), then the system's. */
export function defaultKnownHostsFiles(home: string): string[] {
  return [`${home}/.ssh/known_hosts`, "/etc/ssh/ssh_known_hosts"];
}
