/**
 * The client's command line:
 *
 *   warren [options] [user@]host[#port] [-- local-command [args...]]
 *
 * `parseCommandLine` is pure (the environment comes in as a function) and
 * compiles flags and `-o Option=value` into one `ClientConfig`. Precedence:
 * a dedicated flag wins over `-o`; among repeated `-o`, the first wins (as in
 * OpenSSH); defaults fill what is left.
 */
import { parseCommand } from "./parse_command.ts";
import { ConfigError, UsageError } from "../errors.ts";
import {
  type ClientConfig,
  DEFAULTS,
  type ProfileLayer,
  type SettingsLayer,
} from "../profiles/client_config.ts";
import { defaultKnownHostsFiles, type Env, expandHome, homeDir, localUser } from "../config/env.ts";
import type { HostKeyPolicy } from "../config/host_key_policy.ts";
import { type ForwardSpec, parseForward, parsePort } from "../config/forward.ts";
import { parseTarget, type Target } from "./target.ts";
import {
  applySshOption,
  emptySshOptions,
  parseSshOptions,
  type SshOptions,
} from "./ssh_options.ts";
import type { SshConfig } from "../config/openssh/ssh_config.ts";
import { parseProxyAuth } from "../tunnel/proxy/auth.ts";
import { parseRoute, type Route } from "../config/routes.ts";
import { type JumpHost, parseJumpHosts } from "../config/jump_hosts.ts";
import { parseProxyUrl } from "../config/proxy_url.ts";

function parseRouteOption(text: string): Route {
  try {
    return parseRoute(text);
  } catch (err) {
    throw new UsageError(`Invalid --route '${text}': ${(err as Error).message}`);
  }
}

export type CommandLine =
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "run"; config: ClientConfig }
  | { kind: "dump"; config: ClientConfig };

const OPTIONS = {
  localfwd: { type: "string", short: "L", multiple: true },
  remotefwd: { type: "string", short: "R", multiple: true },
  gateway: { type: "boolean", short: "g" },
  "proxy-auth": { type: "string" },
  route: { type: "string", multiple: true },
  "no-proxy-env": { type: "boolean" },
  "ftp-trust-pasv-address": { type: "boolean" },
  "abort-on-failing-tunnel": { type: "boolean" },
  "no-session-channel": { type: "boolean", short: "S" },
  N: { type: "boolean", short: "N" },
  port: { type: "string", short: "p" },
  jump: { type: "string", short: "J" },
  compression: { type: "boolean", short: "C" },
  proxy: { type: "string" },
  "proxy-password": { type: "string" },
  user: { type: "string", short: "l" },
  "identity-file": { type: "string", short: "i", multiple: true },
  "batch-mode": { type: "boolean", short: "B" },
  password: { type: "string", short: "P" },
  option: { type: "string", short: "o", multiple: true },
  "hostkey-policy": { type: "string" },
  config: { type: "string" },
  "ssh-config": { type: "string", short: "F" },
  "print-config": { type: "boolean", short: "G" },
  "fork-into-background": { type: "boolean", short: "f" },
  "one-shot": { type: "boolean" },
  debug: { type: "string", short: "D" },
  verbose: { type: "boolean", short: "v", multiple: true },
  quiet: { type: "boolean", short: "q" },
  version: { type: "boolean", short: "V" },
  help: { type: "boolean", short: "h" },
} as const;

const POLICIES: readonly HostKeyPolicy[] = [
  "ask",
  "strict",
  "tofu",
  "advisory",
];

function parseFlags(argv: string[]) {
  return parseCommand(undefined, {
    args: argv,
    options: OPTIONS,
    allowPositionals: true,
    strict: true,
  });
}

/** sshg3's -D is a debug level (0–99); OpenSSH's -D is a SOCKS port. */
export function parseDebugLevel(value: string): number {
  if (/^\d{1,2}$/.test(value)) return Number(value);
  const socks = /^(?:(.+):)?(\d+)$/.exec(value);
  if (socks) {
    throw new UsageError(
      `Invalid -D '${value}': -D is the debug level (0-99) here; ` +
        `for a SOCKS proxy on port ${socks[2]} use -L socks/${value}`,
    );
  }
  throw new UsageError(`Invalid -D '${value}': expected a level 0-99`);
}

/** Check a -P value: only indirect sources, never the secret itself. */
export function parsePasswordSource(value: string): string {
  if (/^(file|env|extprog):\/\/./.test(value)) return value;
  throw new UsageError(
    "Invalid -P: use file://PATH, env://VAR or extprog://COMMAND " +
      "(a password in the arguments is visible to other users)",
  );
}

function checkForwards(
  values: string[] | undefined,
  option: "-L" | "-R",
): ForwardSpec[] {
  return (values ?? []).map((text) => {
    const spec = parseForward(text, option);
    // A socket here: -L listening on a path, -R connecting one (the server's end is its own).
    const here = option === "-L" ? spec.listenPath : spec.dstPath;
    if (here !== undefined && Deno.build.os === "windows") {
      throw new UsageError(
        `Invalid ${option} '${text}': Unix domain sockets are not available on this platform`,
      );
    }
    if (spec.protocol === "dns" && option === "-R") {
      throw new UsageError(
        `Invalid -R '${text}': dns/ tunnels are local only (-L dns/PORT:RESOLVER)`,
      );
    }
    if (
      spec.protocol !== "tcp" && spec.protocol !== "socks" && spec.protocol !== "ftp" &&
      spec.protocol !== "dns"
    ) {
      throw new UsageError(
        `Invalid ${option} '${text}': ${spec.protocol}/ tunnels are not supported yet`,
      );
    }
    return spec;
  });
}

function splitCommand(argv: string[]): [string[], string[] | undefined] {
  const dash = argv.indexOf("--");
  if (dash < 0) return [argv, undefined];
  const command = argv.slice(dash + 1);
  if (command.length === 0) {
    throw new UsageError("Missing command after '--'");
  }
  return [argv.slice(0, dash), command];
}

/** The target and --config, before anything is checked: is it a profile? */
export function peekTarget(
  argv: string[],
): { target?: string; configFile?: string; sshConfigFile?: string } {
  try {
    const { values, positionals } = parseFlags(splitCommand(argv)[0]);
    return {
      target: positionals[0],
      configFile: values.config,
      sshConfigFile: values["ssh-config"],
    };
  } catch {
    return {};
  }
}

/**
 * `profile`: a profile target's settings (its host is the target), or a
 * config file's defaults for the host target on the command line.
 * `sshConfig`: ~/.ssh/config or -F FILE, for a target that is not a profile;
 * its values come after the command line's (the first value wins).
 */
export function parseCommandLine(
  argv: string[],
  env: Env,
  profile?: ProfileLayer | SettingsLayer,
  sshConfig?: SshConfig,
): CommandLine {
  const [args, command] = splitCommand(argv);
  const { values: v, positionals } = parseFlags(args);
  if (v.help) return { kind: "help" };
  if (v.version) return { kind: "version" };
  if (positionals.length === 0) {
    throw new UsageError("Missing destination: warren [options] [user@]host");
  }
  if (positionals.length > 1) {
    throw new UsageError(
      `Unexpected argument '${positionals[1]}': ` +
        "a local command goes after '--' (warren ... host -- command)",
    );
  }
  const target: Target = profile?.host !== undefined
    ? { host: profile.host }
    : parseTarget(positionals[0]);
  const o: SshOptions = parseSshOptions(v.option ?? []);
  const warnings: string[] = [];
  // ~/.ssh/config applies to a host target, not to a profile target (a
  // layer with a host); it comes after the command line and before the XML
  // file's <default-settings>.
  if (sshConfig && profile?.host === undefined) {
    const found = sshConfig.lookup(target.host);
    warnings.push(...found.warnings);
    for (const e of found.entries) {
      // ProxyJump and ProxyCommand exclude each other: the first one set wins.
      if (e.keyword === "proxycommand" && (o.jumps !== undefined || v.jump !== undefined)) continue;
      if (e.keyword === "proxyjump" && o.proxyCommand !== undefined) continue;
      try {
        applySshOption(o, e.keyword, e.value, `${e.file}:${e.line}:`);
      } catch (err) {
        throw new ConfigError((err as Error).message);
      }
    }
  }
  const policy = v["hostkey-policy"];
  if (policy !== undefined && !POLICIES.includes(policy as HostKeyPolicy)) {
    throw new UsageError(
      `Invalid --hostkey-policy '${policy}': expected ask, strict, tofu or advisory`,
    );
  }
  let verbosity = (v.verbose?.length ?? 0) - (v.quiet ? 1 : 0);
  if (v.debug !== undefined) {
    const level = parseDebugLevel(v.debug);
    // 1: debug lines, 2: trace, 3 and up: also ssh2's protocol detail (as -vvv).
    if (level > 0) verbosity = Math.max(verbosity, Math.min(level, 3));
  }
  const home = homeDir(env);
  const identities = [...(v["identity-file"] ?? []), ...(o.identityFiles)];
  const config: ClientConfig = {
    host: o.hostName === undefined || profile?.host !== undefined
      ? target.host
      : o.hostName.replace(/%(.)/g, (_, c) => c === "h" ? target.host : c),
    port: v.port !== undefined
      ? parsePort(v.port, "Invalid -p", 1)
      : target.port ?? o.port ?? profile?.port ?? DEFAULTS.port,
    user: v.user ?? target.user ?? o.user ?? profile?.user ?? localUser(env),
    identityFiles: identities.length > 0
      ? identities.map((f) => expandHome(f, home))
      : profile?.identityFiles ?? [],
    passwordSource: v.password === undefined
      ? profile?.passwordSource
      : parsePasswordSource(v.password),
    batchMode: v["batch-mode"] ?? o.batchMode ?? false,
    hostKeyPolicy: (policy as HostKeyPolicy | undefined) ??
      o.hostKeyPolicy ?? profile?.hostKeyPolicy ?? DEFAULTS.hostKeyPolicy,
    knownHostsFiles: o.userKnownHostsFile !== undefined
      ? [expandHome(o.userKnownHostsFile, home), "/etc/ssh/ssh_known_hosts"]
      : profile?.knownHostsFiles ?? defaultKnownHostsFiles(home),
    serverAliveInterval: o.serverAliveInterval ?? profile?.serverAliveInterval ??
      DEFAULTS.serverAliveInterval,
    serverAliveCountMax: o.serverAliveCountMax ?? DEFAULTS.serverAliveCountMax,
    connectTimeout: o.connectTimeout ?? profile?.connectTimeout ?? DEFAULTS.connectTimeout,
    gateway: v.gateway ?? o.gatewayPorts ?? false,
    proxyAuth: v["proxy-auth"] === undefined ? undefined : parseProxyAuth(v["proxy-auth"]),
    routes: v.route?.map(parseRouteOption),
    noProxyEnv: v["no-proxy-env"] ?? false,
    ftpTrustPasvAddress: v["ftp-trust-pasv-address"] ?? false,
    abortOnFailingTunnel: v["abort-on-failing-tunnel"] ??
      o.exitOnForwardFailure ?? false,
    localForwards: [
      ...profile?.localForwards ?? [],
      ...checkForwards(v.localfwd, "-L"),
      ...o.localForwards,
    ],
    remoteForwards: [
      ...profile?.remoteForwards ?? [],
      ...checkForwards(v.remotefwd, "-R"),
      ...o.remoteForwards,
    ],
    background: v["fork-into-background"] ?? false,
    oneShot: v["one-shot"] ?? false,
    pidFile: o.pidFile === undefined ? undefined : expandHome(o.pidFile, home),
    ciphers: o.ciphers ?? profile?.ciphers,
    macs: o.macs ?? profile?.macs,
    kexs: o.kexs ?? profile?.kexs,
    hostKeyAlgorithms: o.hostKeyAlgorithms ?? profile?.hostKeyAlgorithms,
    authMethods: o.authMethods ?? profile?.authMethods,
    command,
    verbosity,
  };
  if (profile?.gateways) config.gateways = profile.gateways;
  const jumps: JumpHost[] | undefined = v.jump !== undefined
    ? parseJumpHosts(v.jump, `Invalid -J '${v.jump}'`)
    : o.jumps;
  if (jumps !== undefined) {
    // Each jump host is looked up in ssh_config too, as ssh does for its hops.
    config.jumps = jumps.map((j) => {
      const h = emptySshOptions();
      // ~/.ssh/config applies to a host target, not to a profile target (a
      // layer with a host); it comes after the command line and before the XML
      // file's <default-settings>.
      if (sshConfig && profile?.host === undefined) {
        for (const e of sshConfig.lookup(j.host).entries) {
          if (!["hostname", "user", "port"].includes(e.keyword)) continue;
          try {
            applySshOption(h, e.keyword, e.value, `${e.file}:${e.line}:`);
          } catch (err) {
            throw new ConfigError((err as Error).message);
          }
        }
      }
      return {
        host: h.hostName?.replace(/%(.)/g, (_, c) => c === "h" ? j.host : c) ?? j.host,
        port: j.port ?? h.port ?? DEFAULTS.port,
        user: j.user ?? h.user ?? localUser(env),
      };
    });
  }
  if (o.identitiesOnly) config.identitiesOnly = true;
  if (v.compression ?? o.compression ?? profile?.compression) config.compression = true;
  if (warnings.length > 0) config.warnings = warnings;
  if (o.proxyCommand) config.proxyCommand = o.proxyCommand;
  if (config.proxyCommand !== undefined && config.jumps?.length) {
    throw new UsageError("ProxyCommand and -J/ProxyJump cannot be combined: choose one");
  }
  const proxy = v.proxy !== undefined
    ? (v.proxy.toLowerCase() === "none"
      ? null
      : parseProxyUrl(v.proxy, `Invalid --proxy '${v.proxy}'`))
    : o.proxyUrl;
  if (proxy) config.proxy = proxy;
  if (proxy === null) config.noProxy = true;
  // A profile's proxy rules, unless the command line chose (--proxy URL or none).
  if (proxy === undefined && profile?.proxyRules) config.proxyRules = profile.proxyRules;
  if (v["proxy-password"] !== undefined) {
    if (!/^(file|env|extprog):\/\/./.test(v["proxy-password"])) {
      throw new UsageError(
        "Invalid --proxy-password: use file://PATH, env://VAR or extprog://COMMAND " +
          "(a password in the arguments is visible to other users)",
      );
    }
    if (!config.proxy?.user) {
      throw new UsageError(
        "--proxy-password needs a proxy with a user: --proxy SCHEME://USER@HOST:PORT",
      );
    }
    config.proxyPasswordSource = v["proxy-password"];
  }
  if (config.proxy?.user && config.proxy.scheme !== "socks4a" && !config.proxyPasswordSource) {
    throw new UsageError(
      `--proxy with a user (${config.proxy.user}) needs --proxy-password file://PATH, env://VAR or extprog://COMMAND`,
    );
  }
  if (config.proxy && config.proxyCommand !== undefined) {
    throw new UsageError("--proxy (ProxyUrl) and ProxyCommand cannot be combined: choose one");
  }
  const proxies = [...config.localForwards, ...config.remoteForwards].some((f) =>
    f.protocol === "socks"
  );
  if (config.proxyAuth && !proxies) {
    throw new UsageError("--proxy-auth needs a proxy tunnel: -L or -R socks/[address:]port");
  }
  if (config.routes && !proxies) {
    throw new UsageError("--route needs a proxy tunnel: -L or -R socks/[address:]port");
  }
  const ftp = [...config.localForwards, ...config.remoteForwards].some((f) => f.protocol === "ftp");
  if (config.ftpTrustPasvAddress && !ftp) {
    throw new UsageError("--ftp-trust-pasv-address needs an FTP tunnel: -L ftp/... or -R ftp/...");
  }
  if (config.background && command !== undefined) {
    throw new UsageError("-f and '-- command' cannot be combined");
  }
  return { kind: v["print-config"] ? "dump" : "run", config };
}
