/**
 * One client run, from a `ClientConfig` to an exit code: connect, open every
 * tunnel, then wait for whichever comes first — a signal, the connection
 * dying, the local command exiting, or (one-shot) the last tunneled
 * connection closing — and close everything within two seconds.
 */
import { startMemoryTrim } from "../net/trim.ts";
import type { ClientConfig } from "../profiles/client_config.ts";
import {
  defaultIdentityFiles,
  type Env,
  expandHome,
  homeDir,
  resolveConfigPath,
} from "../config/env.ts";
import { listenForSignals, stopSignals } from "../cli/signals.ts";
import { EXIT_FAILURE, EXIT_OK, InterruptedError, messageOf, WarrenError } from "../errors.ts";
import { hostPort } from "../config/forward.ts";
import { logger } from "../log.ts";
import { type ConnectOptions, connectSsh, SshConnection } from "../ssh/connection.ts";
import { connectThrough } from "../ssh/jump.ts";
import { expandProxyCommand } from "../ssh/proxy_command.ts";
import { readPasswordSource } from "../ssh/password_source.ts";
import { terminalPrompter } from "../ssh/prompt.ts";
import { FtpLocalTunnel, FtpRemoteTunnel } from "../tunnel/ftp/tunnel.ts";
import { LocalTunnel } from "../tunnel/local.ts";
import { ProxyTunnel } from "../tunnel/proxy/tunnel.ts";
import { ProxyCredentials } from "../tunnel/proxy/auth.ts";
import { clientAddress, proxyEnvironment } from "../tunnel/proxy/env.ts";
import { RemoteTunnel } from "../tunnel/remote.ts";
import { RemoteProxyTunnel } from "../tunnel/proxy/remote_tunnel.ts";
import { DnsTunnel } from "../tunnel/dns/tunnel.ts";
import { isStreamLocal, LocalStreamTunnel, RemoteStreamTunnel } from "../tunnel/streamlocal.ts";
import type { Activity, Tunnel } from "../tunnel/types.ts";
import { ActivityTracker } from "../tunnel/activity.ts";
import { isBackgroundChild, relayPrompter, signalReady } from "../cli/background.ts";
import { type CommandLine, parseCommandLine, peekTarget } from "../cli/args.ts";
import { loadSshConfig } from "../config/openssh/ssh_config.ts";
import type { SettingsLayer } from "../profiles/client_config.ts";
import { scopePermissions } from "../cli/scope.ts";
import { clientNeedsOnceUp, clientNeedsToStart } from "../cli/client_scope.ts";

const log = logger("client");

type Outcome =
  | { why: "signal"; signal: Deno.Signal }
  | { why: "lost"; error: WarrenError }
  | { why: "command"; code: number }
  | { why: "one-shot" };

/** Open every tunnel; a failure is one error line, or fatal with abort. */
async function startTunnels(
  config: ClientConfig,
  ssh: SshConnection,
  activity: Activity,
  credentials: ProxyCredentials | undefined,
): Promise<Tunnel[]> {
  const open = (srcHost: string, srcPort: number, dstHost: string, dstPort: number) =>
    ssh.openDirect(srcHost, srcPort, dstHost, dstPort);
  const ftpOptions = { trustPasvAddress: config.ftpTrustPasvAddress };
  const tunnels: Tunnel[] = [
    ...config.localForwards.map((spec) =>
      isStreamLocal(spec)
        ? new LocalStreamTunnel(spec, config.gateway, ssh, activity)
        : spec.protocol === "dns"
        ? new DnsTunnel(spec, config.gateway, open, activity)
        : spec.protocol === "socks"
        ? new ProxyTunnel(spec, open, activity, {
          gateway: config.gateway,
          credentials,
          routes: config.routes,
        })
        : spec.protocol === "ftp"
        ? new FtpLocalTunnel(spec, config.gateway, ssh, activity, ftpOptions)
        : new LocalTunnel(spec, config.gateway, open, activity)
    ),
    ...config.remoteForwards.map((spec) =>
      isStreamLocal(spec)
        ? new RemoteStreamTunnel(spec, ssh, activity)
        : spec.protocol === "ftp"
        ? new FtpRemoteTunnel(spec, ssh, activity, ftpOptions)
        : spec.protocol === "socks"
        ? new RemoteProxyTunnel(spec, ssh, activity, { credentials, routes: config.routes })
        : new RemoteTunnel(spec, ssh, activity)
    ),
  ];
  const started: Tunnel[] = [];
  const failures: Error[] = [];
  const results = await Promise.allSettled(tunnels.map((t) => t.start()));
  for (const [i, r] of results.entries()) {
    if (r.status === "fulfilled") started.push(tunnels[i]);
    else failures.push(asTunnelError(r.reason));
  }
  if (failures.length === 0) return started;
  // A local command must not run without its tunnels: `--` aborts as
  // --abort-on-failing-tunnel does. With no tunnel left and nothing else to
  // do, waiting would only hide the failure.
  const fatal = config.abortOnFailingTunnel || config.command !== undefined;
  if (fatal || started.length === 0) {
    await Promise.allSettled(tunnels.map((t) => t.close()));
    if (fatal || failures.length === 1) throw failures[0];
    throw new WarrenError(
      "bind",
      `No tunnel could be opened: ${failures.map((f) => f.message).join("; ")}`,
    );
  }
  for (const f of failures) log.error("{err}", { err: f.message });
  return started;
}

function asTunnelError(reason: unknown): Error {
  return reason instanceof WarrenError ? reason : new WarrenError("bind", messageOf(reason));
}

/**
 * The proxy variables for the command: the first socks/ tunnel, unless
 * --no-proxy-env, or --proxy-auth (warren keeps only a digest of the
 * password, so it cannot put it in a URL).
 */
function commandEnvironment(
  config: ClientConfig,
  tunnels: Tunnel[],
  inheritedNoProxy: string | undefined,
): Record<string, string> | undefined {
  const proxy = tunnels.find((t) => t instanceof ProxyTunnel);
  if (!proxy || config.noProxyEnv) return undefined;
  if (config.proxyAuth) {
    log.info("The command gets no proxy variables: the proxy requires --proxy-auth");
    return undefined;
  }
  const address = clientAddress(proxy.addresses);
  log.debug("The command gets ALL_PROXY, HTTP_PROXY and HTTPS_PROXY for {address}", { address });
  return proxyEnvironment(address, config.routes, inheritedNoProxy);
}

/** Run the local command with inherited stdio; resolves its exit status. */
function runCommand(
  command: string[],
  env?: Record<string, string>,
): { status: Promise<number>; child?: Deno.ChildProcess } {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(command[0], {
      args: command.slice(1),
      env,
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound ? "command not found" : messageOf(err);
    log.error("Cannot run '{cmd}': {why}", { cmd: command[0], why });
    return { status: Promise.resolve(127) };
  }
  return {
    child,
    status: child.status.then((s) => s.signal ? 128 + signalNumber(s.signal) : s.code),
  };
}

function signalNumber(signal: Deno.Signal): number {
  const numbers: Partial<Record<Deno.Signal, number>> = {
    SIGHUP: 1,
    SIGINT: 2,
    SIGQUIT: 3,
    SIGKILL: 9,
    SIGTERM: 15,
  };
  return numbers[signal] ?? 1;
}

async function writePidFile(path: string): Promise<void> {
  try {
    await Deno.writeTextFile(path, `${Deno.pid}\n`);
  } catch (err) {
    throw new WarrenError("io", `Cannot write PidFile ${path}: ${messageOf(err)}`);
  }
}

/** Connect, tunnel, wait, clean up. Returns the process exit code. */
export async function runClient(config: ClientConfig): Promise<number> {
  const background = isBackgroundChild();
  for (const line of config.warnings ?? []) log.warn("{line}", { line });
  const home = homeDir((n) => Deno.env.get(n));
  const explicit = config.identityFiles.length > 0;
  // A missing --proxy-auth password is the user's mistake: said before connecting.
  const credentials = config.proxyAuth && await ProxyCredentials.load(config.proxyAuth);
  const proxyPassword = config.proxyPasswordSource === undefined
    ? undefined
    : await readPasswordSource(config.proxyPasswordSource);
  // Signals count from the start: a stop while connecting is a stop too.
  const outcome = Promise.withResolvers<Outcome>();
  const unlistenSignals = listenForSignals(
    stopSignals(),
    (signal) => outcome.resolve({ why: "signal", signal }),
  );
  // -f: the foreground process asks the questions, if it has a terminal.
  const prompter = background ? relayPrompter() : terminalPrompter(config.batchMode);
  const target: ConnectOptions = {
    host: config.host,
    port: config.port,
    user: config.user,
    identityFiles: explicit ? config.identityFiles : defaultIdentityFiles(home),
    explicitIdentities: explicit,
    agentSocket: config.identitiesOnly ? undefined : Deno.env.get("SSH_AUTH_SOCK") || undefined,
    passwordSource: config.passwordSource,
    hostKeyPolicy: config.hostKeyPolicy,
    knownHostsFiles: config.knownHostsFiles,
    connectTimeout: config.connectTimeout,
    keepaliveInterval: config.serverAliveInterval,
    keepaliveCountMax: config.serverAliveCountMax,
    ciphers: config.ciphers,
    macs: config.macs,
    kexs: config.kexs,
    hostKeyAlgorithms: config.hostKeyAlgorithms,
    authMethods: config.authMethods,
    compression: config.compression,
    prompter,
    protocolDebug: config.verbosity >= 3,
  };
  // Read while env is still granted: the command's NO_PROXY keeps what the caller had.
  const noProxy = config.command === undefined
    ? undefined
    : Deno.env.get("NO_PROXY") ?? Deno.env.get("no_proxy");
  scopePermissions(
    "before connecting",
    clientNeedsToStart(config, {
      interactive: prompter !== undefined,
      agentSocket: target.agentSocket,
    }),
  );

  const gateways: ConnectOptions[] = config.jumps !== undefined
    ? config.jumps.map((j) => ({ ...target, host: j.host, port: j.port, user: j.user }))
    : config.gateways?.map((g) => ({ ...g, prompter })) ?? [];
  // The transport options carry the first connection: the outermost hop's.
  const first = gateways[0] ?? target;
  if (config.proxyCommand !== undefined) {
    first.proxyCommand = expandProxyCommand(config.proxyCommand, first);
  }
  if (config.proxy) first.proxy = { proxy: config.proxy, password: proxyPassword };
  if (config.proxy || config.noProxy) delete first.proxyRules;
  // A profile's own rules reach its server; through gateways, the outermost one's rules apply.
  else if (first === target && config.proxyRules) target.proxyRules = config.proxyRules;
  const connecting = gateways.length > 0
    ? connectThrough([...gateways, target])
    : connectSsh(target);
  let ssh: SshConnection;
  try {
    const first = await Promise.race([connecting, outcome.promise]);
    if (!(first instanceof SshConnection)) {
      // A stop before the tunnels are up is an abort (as Ctrl-C at a question is), not success.
      unlistenSignals();
      connecting.then((c) => c.close(), () => {});
      const signal = first.why === "signal" ? first.signal : "SIGINT";
      const how = signal === "SIGINT" ? "Interrupted" : `Stopped by ${signal}`;
      throw new InterruptedError(
        `${how} while connecting to ${hostPort(target.host, target.port)}`,
        signal,
      );
    }
    ssh = first;
  } catch (err) {
    unlistenSignals();
    throw err;
  }
  const activity = new ActivityTracker();
  const stopTrim = startMemoryTrim();
  let tunnels: Tunnel[] = [];
  let command: ReturnType<typeof runCommand> | undefined;
  try {
    tunnels = await startTunnels(config, ssh, activity, credentials);
    ssh.closed.then((error) => error && outcome.resolve({ why: "lost", error }));
    if (config.oneShot) activity.idle.then(() => outcome.resolve({ why: "one-shot" }));
    if (config.pidFile !== undefined) await writePidFile(config.pidFile);
    if (background) await signalReady();
    if (config.command !== undefined) {
      command = runCommand(config.command, commandEnvironment(config, tunnels, noProxy));
      command.status.then((code) => outcome.resolve({ why: "command", code }));
    }
    scopePermissions("once up", clientNeedsOnceUp(config));
    const result = await outcome.promise;
    switch (result.why) {
      case "signal":
        log.info("Received {signal}: closing tunnels", { signal: result.signal });
        if (command?.child) return await stopCommand(command.child, command.status);
        return EXIT_OK;
      case "lost":
        log.error("{err}", { err: result.error.message });
        return EXIT_FAILURE;
      case "command":
        return result.code;
      case "one-shot":
        log.info("One-shot: {n} connection(s) served, exiting", { n: activity.total });
        return EXIT_OK;
      default:
        return result satisfies never;
    }
  } finally {
    // Signals stay handled until the end: a second Ctrl-C during cleanup
    // must not end the process with another exit code.
    stopTrim();
    await closeAll(tunnels, ssh);
    if (config.pidFile !== undefined) await Deno.remove(config.pidFile).catch(() => {});
    unlistenSignals();
  }
}

/** Pass the stop on to the local command; kill it if it lingers. */
async function stopCommand(child: Deno.ChildProcess, status: Promise<number>): Promise<number> {
  try {
    child.kill("SIGTERM");
  } catch { /* already gone */ }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 1500);
  try {
    return await status;
  } finally {
    clearTimeout(timer);
  }
}

/** Close tunnels and the connection, giving up on stragglers after 1.5 s. */
async function closeAll(tunnels: Tunnel[], ssh: SshConnection): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const cap = new Promise<void>((r) => timer = setTimeout(r, 1500));
  await Promise.race([Promise.allSettled(tunnels.map((t) => t.close())), cap]);
  clearTimeout(timer);
  await ssh.close();
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * parseCommandLine, with the config files applied. The XML file: a profile
 * target takes its profile; a host target the file's defaults and known
 * hosts (a file named by --config or $WARREN_CONFIG must be readable and
 * correct; the default ~/.ssh2/ssh-broker-config.xml is read when it
 * exists). A host target is also looked up in ~/.ssh/config or -F FILE
 * (`-F none`: none).
 */
export async function parseClientCommandLine(argv: string[], env: Env): Promise<CommandLine> {
  const { target, configFile, sshConfigFile } = peekTarget(argv);
  if (target === undefined) return parseCommandLine(argv, env);
  const path = resolveConfigPath(configFile, env);
  const named = configFile !== undefined || !!env("WARREN_CONFIG");
  let defaults: SettingsLayer | undefined;
  if (named || await exists(path)) {
    // The XML reader is loaded only when there is a file to read (2 MiB).
    const { loadBrokerConfig } = await import("../config/tectia/load.ts");
    const { findProfile } = await import("../config/tectia/model.ts");
    const layers = await import("../profiles/target.ts");
    const config = await loadBrokerConfig(path, env);
    const profile = layers.isProfileCandidate(target) ? findProfile(config, target) : undefined;
    if (profile) {
      return parseCommandLine(argv, env, await layers.profileLayer(config, profile, env));
    }
    defaults = await layers.defaultsLayer(config, env);
  }
  if (sshConfigFile === "none") return parseCommandLine(argv, env, defaults);
  const home = homeDir(env);
  const sshConfig = await loadSshConfig(
    sshConfigFile !== undefined ? expandHome(sshConfigFile, home) : `${home}/.ssh/config`,
    home,
    sshConfigFile !== undefined,
  );
  return parseCommandLine(argv, env, defaults, sshConfig);
}
