/**
 * `-o Option=value` with OpenSSH's option names (case-insensitive, `=` or a
 * space between name and value). Only the options warren implements are
 * accepted; any other name is a usage error that names it. For an option
 * given more than once, the first value wins, as in OpenSSH.
 */
import { UsageError } from "../errors.ts";
import type { HostKeyPolicy } from "../config/host_key_policy.ts";
import { parsePort } from "../config/forward.ts";
import {
  type AlgorithmKind,
  resolveAlgorithmList,
  supportedAlgorithms,
} from "../config/ssh_algorithms.ts";
import { preferredCiphers } from "../ssh/crypto/hook.ts";
import { type AuthMethodName, DEFAULT_AUTH_METHODS } from "../ssh/auth.ts";
import { type JumpHost, parseJumpHosts } from "../config/jump_hosts.ts";
import { unknownProxyTokens } from "../ssh/proxy_command.ts";
import { parseProxyUrl, type ProxyUrl } from "../config/proxy_url.ts";
import { type ForwardSpec, parseForward } from "../config/forward.ts";

export interface SshOptions {
  /** HostName: the real host name (%h = the name as typed, %% = %). */
  hostName?: string;
  port?: number;
  user?: string;
  identityFiles: string[];
  userKnownHostsFile?: string;
  hostKeyPolicy?: HostKeyPolicy;
  serverAliveInterval?: number;
  serverAliveCountMax?: number;
  connectTimeout?: number;
  exitOnForwardFailure?: boolean;
  gatewayPorts?: boolean;
  pidFile?: string;
  batchMode?: boolean;
  /** Cipher preference, most preferred first. */
  ciphers?: string[];
  /** MACs, KexAlgorithms, HostKeyAlgorithms: preferences, most preferred first. */
  macs?: string[];
  kexs?: string[];
  hostKeyAlgorithms?: string[];
  /** PreferredAuthentications: the methods warren implements, in order. */
  authMethods?: AuthMethodName[];
  /** ProxyJump: jump hosts, outermost first; [] = none. */
  jumps?: JumpHost[];
  /** ProxyCommand, tokens not yet expanded; "" = none. */
  proxyCommand?: string;
  /** ProxyUrl: a built-in proxy (warren's own option); null = none. */
  proxyUrl?: ProxyUrl | null;
  /** LocalForward and DynamicForward (socks/), RemoteForward: these add up. */
  localForwards: ForwardSpec[];
  remoteForwards: ForwardSpec[];
  /** IdentitiesOnly: offer only the identity files, not the agent's keys. */
  identitiesOnly?: boolean;
  compression?: boolean;
}

type Setter = (o: SshOptions, value: string, what: string) => void;

function yesNo(value: string, what: string): boolean {
  const v = value.toLowerCase();
  if (v === "yes" || v === "true") return true;
  if (v === "no" || v === "false") return false;
  throw new UsageError(`${what}: expected yes or no`);
}

function seconds(value: string, what: string): number {
  if (!/^\d+$/.test(value)) {
    throw new UsageError(`${what}: expected a whole number of seconds`);
  }
  return Number(value);
}

const STRICT: Record<string, HostKeyPolicy> = {
  yes: "strict",
  "accept-new": "tofu",
  no: "advisory",
  off: "advisory",
  ask: "ask",
};

/** Canonical names (for messages) and how each sets its field. */
const SETTERS: Record<string, [string, Setter]> = {
  hostname: ["HostName", (o, v, w) => o.hostName ??= hostName(v, w)],
  port: ["Port", (o, v, w) => o.port ??= parsePort(v, w, 1)],
  user: ["User", (o, v) => o.user ??= v],
  identityfile: ["IdentityFile", (o, v) => o.identityFiles.push(v)],
  userknownhostsfile: [
    "UserKnownHostsFile",
    (o, v) => o.userKnownHostsFile ??= v.split(/\s+/)[0],
  ],
  stricthostkeychecking: ["StrictHostKeyChecking", (o, v, w) => {
    const policy = STRICT[v.toLowerCase()];
    if (policy === undefined) {
      throw new UsageError(`${w}: expected yes, accept-new, no or ask`);
    }
    o.hostKeyPolicy ??= policy;
  }],
  serveraliveinterval: [
    "ServerAliveInterval",
    (o, v, w) => o.serverAliveInterval ??= seconds(v, w),
  ],
  serveralivecountmax: ["ServerAliveCountMax", (o, v, w) => {
    const n = seconds(v, w);
    if (n < 1) throw new UsageError(`${w}: must be at least 1`);
    o.serverAliveCountMax ??= n;
  }],
  connecttimeout: [
    "ConnectTimeout",
    (o, v, w) => o.connectTimeout ??= seconds(v, w),
  ],
  exitonforwardfailure: [
    "ExitOnForwardFailure",
    (o, v, w) => o.exitOnForwardFailure ??= yesNo(v, w),
  ],
  gatewayports: ["GatewayPorts", (o, v, w) => o.gatewayPorts ??= yesNo(v, w)],
  pidfile: ["PidFile", (o, v) => o.pidFile ??= v],
  batchmode: ["BatchMode", (o, v, w) => o.batchMode ??= yesNo(v, w)],
  ciphers: ["Ciphers", (o, v, w) => o.ciphers ??= algorithmList("cipher", v, w)],
  macs: ["MACs", (o, v, w) => o.macs ??= algorithmList("mac", v, w)],
  kexalgorithms: ["KexAlgorithms", (o, v, w) => o.kexs ??= algorithmList("kex", v, w)],
  hostkeyalgorithms: [
    "HostKeyAlgorithms",
    (o, v, w) => o.hostKeyAlgorithms ??= algorithmList("hostkey-algorithm", v, w),
  ],
  preferredauthentications: [
    "PreferredAuthentications",
    (o, v, w) => o.authMethods ??= authMethodList(v, w),
  ],
  proxyjump: ["ProxyJump", (o, v, w) => o.jumps ??= parseJumpHosts(v, w)],
  proxycommand: ["ProxyCommand", (o, v, w) => o.proxyCommand ??= proxyCommand(v, w)],
  localforward: ["LocalForward", (o, v, w) => o.localForwards.push(sshForward(v, w, false))],
  remoteforward: ["RemoteForward", (o, v, w) => o.remoteForwards.push(sshForward(v, w, true))],
  dynamicforward: ["DynamicForward", (o, v, w) => {
    if (/\s/.test(v)) throw new UsageError(`${w}: expected [bind-address:]port`);
    o.localForwards.push(forward(`socks/${unbracket(v)}`, w));
  }],
  identitiesonly: ["IdentitiesOnly", (o, v, w) => o.identitiesOnly ??= yesNo(v, w)],
  compression: ["Compression", (o, v, w) => o.compression ??= yesNo(v, w)],
  proxyurl: [
    "ProxyUrl",
    (o, v, w) => o.proxyUrl ??= v.toLowerCase() === "none" ? null : parseProxyUrl(v, w),
  ],
};

const HOSTNAME_RE = /^[A-Za-z0-9_%]([A-Za-z0-9_.%-]*[A-Za-z0-9_.%])?$|^[0-9A-Fa-f:.]+$/;

/** HostName: a name or address, where %h and %% are expanded later. */
function hostName(value: string, what: string): string {
  if (!HOSTNAME_RE.test(value) || /%[^h%]/.test(value.replace(/%%/g, ""))) {
    throw new UsageError(`${what}: not a host name (tokens: %h, %%)`);
  }
  return value;
}

/** `[127.0.0.1]` as OpenSSH allows it: brackets are for IPv6 in warren's grammar. */
function unbracket(address: string): string {
  return address.replace(/\[([^\]:]*)\]/g, "$1");
}

/**
 * LocalForward / RemoteForward as OpenSSH writes them, `[bind:]port
 * host:hostport` (a space between the two), as a warren -L/-R spec.
 */
function sshForward(value: string, what: string, remote: boolean): ForwardSpec {
  const words = value.split(/\s+/);
  if (words.length !== 2) {
    throw new UsageError(`${what}: expected [bind-address:]port host:hostport`);
  }
  const spec = forward(`${unbracket(words[0])}:${unbracket(words[1])}`, what);
  if (remote && spec.protocol !== "tcp") throw new UsageError(`${what}: tcp forwards only`);
  return spec;
}

/** parseForward with `what` as the start of its messages. */
function forward(text: string, what: string): ForwardSpec {
  try {
    return parseForward(text, "F");
  } catch (err) {
    const prefix = `Invalid F '${text}'`;
    const message = (err as Error).message;
    throw new UsageError(
      message.startsWith(prefix) ? what + message.slice(prefix.length) : message,
    );
  }
}

/** A ProxyCommand template: its tokens checked; "none" = "". */
function proxyCommand(value: string, what: string): string {
  if (value.toLowerCase() === "none") return "";
  const unknown = unknownProxyTokens(value);
  if (unknown.length > 0) {
    throw new UsageError(
      `${what}: unknown token ${unknown[0]} (known: %h host, %p port, %r user, %% a %)`,
    );
  }
  return value;
}

/** OpenSSH's method names that warren does not implement: accepted and passed over. */
const UNIMPLEMENTED_METHODS = ["gssapi-with-mic", "hostbased"];

/** PreferredAuthentications: a comma-separated list, in order. */
function authMethodList(value: string, what: string): AuthMethodName[] {
  const out: AuthMethodName[] = [];
  for (const name of value.split(",").map((n) => n.trim())) {
    if ((DEFAULT_AUTH_METHODS as readonly string[]).includes(name)) {
      if (!out.includes(name as AuthMethodName)) out.push(name as AuthMethodName);
    } else if (!UNIMPLEMENTED_METHODS.includes(name)) {
      throw new UsageError(
        `${what}: unknown method '${name}' (known: ${
          [...DEFAULT_AUTH_METHODS, ...UNIMPLEMENTED_METHODS].join(", ")
        })`,
      );
    }
  }
  if (out.length === 0) {
    throw new UsageError(`${what}: none of these methods is one warren implements`);
  }
  return out;
}

const KIND_NAMES: Record<AlgorithmKind, string> = {
  cipher: "cipher",
  mac: "MAC",
  kex: "key exchange",
  "hostkey-algorithm": "host key algorithm",
};

/** An algorithm list (OpenSSH's forms, see resolveAlgorithmList) of names ssh2 implements. */
function algorithmList(kind: AlgorithmKind, value: string, what: string): string[] {
  const base = kind === "cipher" ? preferredCiphers() : undefined;
  const { list, unknown } = resolveAlgorithmList(kind, value, base);
  if (unknown.length > 0) {
    throw new UsageError(
      `${what}: unknown ${KIND_NAMES[kind]} ${unknown.join(", ")} (known: ${
        supportedAlgorithms(kind).join(", ")
      })`,
    );
  }
  if (list.length === 0) throw new UsageError(`${what}: leaves no ${KIND_NAMES[kind]} to offer`);
  return list;
}

/** The option names warren accepts with -o, for help and messages. */
export const SSH_OPTION_NAMES: readonly string[] = Object.values(SETTERS).map((
  [name],
) => name);

/**
 * Apply one option (a lowercase keyword) as -o would, first value winning;
 * false when warren does not know the keyword (ssh_config ignores those).
 */
export function applySshOption(
  o: SshOptions,
  keyword: string,
  value: string,
  what: string,
): boolean {
  const entry = SETTERS[keyword];
  if (entry === undefined) return false;
  entry[1](o, value, `${what} ${entry[0]}='${value}'`);
  return true;
}

/** An empty option set. */
export function emptySshOptions(): SshOptions {
  return { identityFiles: [], localForwards: [], remoteForwards: [] };
}

export function parseSshOptions(values: string[]): SshOptions {
  const out: SshOptions = emptySshOptions();
  for (const text of values) {
    const m = /^\s*([A-Za-z0-9]+)\s*(?:=\s*|\s+)(.*?)\s*$/.exec(text);
    if (!m) {
      throw new UsageError(`Invalid -o '${text}': expected Option=value`);
    }
    const entry = SETTERS[m[1].toLowerCase()];
    if (entry === undefined) {
      throw new UsageError(
        `Unknown -o option '${m[1]}' (supported: ${SSH_OPTION_NAMES.join(", ")})`,
      );
    }
    const value = m[2].replace(/^"(.*)"$/, "$1");
    if (value === "") {
      throw new UsageError(`Invalid -o '${text}': missing value`);
    }
    entry[1](out, value, `Invalid -o ${entry[0]}='${value}'`);
  }
  return out;
}
