/**
 * Which permissions a client run keeps (lib/cli/scope.ts drops the rest).
 *
 * Before connecting: `run` for the command after `--`, for `-P
 * extprog://` and for a ProxyCommand (`--proxy-password` is read before); `write` for the PidFile, for host keys the policy may add to
 * known_hosts (tofu, advisory, or ask at a terminal), and for the agent's
 * socket (connecting to a Unix socket needs write access); `env` for
 * `-P env://`. Once connected, every tunnel listening and the command
 * started, only the PidFile keeps anything: `write`, to remove it at exit.
 * Unix sockets here keep `write` throughout: a `-L /path.sock` to create the
 * socket and remove it at exit, a `-R port:/path.sock` to connect it (which
 * needs write access) for each connection.
 * The `-f` foreground keeps `run` to start its background copy.
 */
import type { ClientConfig } from "../profiles/client_config.ts";
import type { HostKeyPolicy } from "../config/host_key_policy.ts";
import type { Reasons } from "./scope.ts";

/** One hop's settings that matter here (the target, or a gateway of its chain). */
interface Hop {
  passwordSource?: string;
  hostKeyPolicy: HostKeyPolicy;
  knownHostsFiles: string[];
}

export interface ClientContext {
  /** Host key questions can be asked (a terminal, no -B, not the -f copy). */
  interactive: boolean;
  /** SSH_AUTH_SOCK, when set. */
  agentSocket?: string;
}

function add(reasons: Reasons, name: keyof Reasons, why: string): void {
  const list = reasons[name] ??= [];
  if (!list.includes(why)) list.push(why);
}

/** What the run needs from the command line's parse until it is up. */
export function clientNeedsToStart(config: ClientConfig, ctx: ClientContext): Reasons {
  const reasons: Reasons = {};
  if (config.command !== undefined) {
    add(reasons, "run", `the command after --: ${config.command[0]}`);
  }
  if (config.proxyCommand !== undefined) {
    add(reasons, "run", `ProxyCommand ${config.proxyCommand}`);
  }
  if (config.pidFile !== undefined) add(reasons, "write", `PidFile ${config.pidFile}`);
  for (const spec of config.localForwards) {
    if (spec.listenPath !== undefined) {
      add(reasons, "write", `the Unix socket ${spec.listenPath}, created here`);
    }
  }
  for (const spec of config.remoteForwards) {
    if (spec.dstPath !== undefined) {
      add(reasons, "write", `the Unix socket ${spec.dstPath} (connecting needs write access)`);
    }
  }
  if (ctx.agentSocket) {
    add(reasons, "write", `the agent socket ${ctx.agentSocket} (connecting needs write access)`);
  }
  const hops: Hop[] = [...(config.gateways ?? []), config];
  for (const hop of hops) {
    const source = hop.passwordSource ?? "";
    if (source.startsWith("extprog://")) add(reasons, "run", "-P extprog:// password program");
    if (source.startsWith("env://")) add(reasons, "env", `-P ${source}`);
    const file = hop.knownHostsFiles[0];
    if (hop.hostKeyPolicy === "tofu" || hop.hostKeyPolicy === "advisory") {
      add(reasons, "write", `--hostkey-policy ${hop.hostKeyPolicy}: new host keys go to ${file}`);
    } else if (hop.hostKeyPolicy === "ask" && ctx.interactive) {
      add(reasons, "write", `--hostkey-policy ask: an accepted host key goes to ${file}`);
    }
  }
  return reasons;
}

/** What the run needs once connected, listening, and its command started. */
export function clientNeedsOnceUp(config: ClientConfig): Reasons {
  const reasons: Reasons = {};
  if (config.pidFile !== undefined) {
    add(reasons, "write", `PidFile ${config.pidFile}, removed at exit`);
  }
  for (const spec of config.localForwards) {
    if (spec.listenPath !== undefined) {
      add(reasons, "write", `the Unix socket ${spec.listenPath}, removed at exit`);
    }
  }
  for (const spec of config.remoteForwards) {
    if (spec.dstPath !== undefined) {
      add(reasons, "write", `the Unix socket ${spec.dstPath}, connected for each connection`);
    }
  }
  return reasons;
}

/** The `-f` foreground: it starts the background copy and relays its lines. */
export function foregroundNeeds(): Reasons {
  return { run: ["-f: starting the background copy of warren"] };
}
