/**
 * `warren serve`: the command line, the checks before starting, and the run
 * until SIGINT/SIGTERM.
 *
 *   warren serve --authorized-keys FILE [--listen [ADDR:]PORT]
 *     [--host-key FILE] [--permit-open HOST:PORT ...]
 *     [--permit-listen [ADDR:]PORT ...] [--gateway-ports] [-v] [-q]
 *
 * Usage and configuration mistakes (no --authorized-keys, a file that cannot
 * be read or holds no usable key, a bad permit, an unreadable host key) exit
 * 2 before anything listens; a listen failure exits 1.
 */
import { startMemoryTrim } from "../net/trim.ts";
import { parseCommand } from "../cli/parse_command.ts";
import type { Env } from "../config/env.ts";
import { hostPort, parseAddress, parsePort } from "../config/forward.ts";
import { listenForSignals, stopSignals } from "../cli/signals.ts";
import type { Subcommand } from "./subcommand.ts";
import { ConfigError, EXIT_OK, fileProblem, messageOf, UsageError } from "../errors.ts";
import { levelFor, logger, setupLogging } from "../log.ts";
import { isLoopback } from "../tunnel/listen.ts";
import { parseAuthorizedKeys } from "../server/authorized_keys.ts";
import { defaultHostKeyPath, loadHostKey } from "../server/host_key.ts";
import {
  formatPermit,
  type ListenPermit,
  type OpenPermit,
  parseListenPermit,
  parseOpenPermit,
} from "../server/permits.ts";
import { WarrenServer } from "../server/server.ts";
import { parseStartups, type Startups } from "../server/startups.ts";
import { scopePermissions } from "../cli/scope.ts";

const log = logger("serve");

export const SERVE_HELP = `warren serve: an SSH server for tunnels only

Usage:
  warren serve --authorized-keys FILE [options]

Options:
  --authorized-keys FILE   OpenSSH authorized_keys: the public keys that may
                           log in (required; from=, permitopen=, permitlisten=,
                           restrict, no-port-forwarding, expiry-time= honoured).
                           e.g. --authorized-keys ~/.ssh/authorized_keys
  --listen [ADDR:]PORT     Where to listen (default 127.0.0.1:2222; '*' is
                           every interface; port 0 picks a free one).
                           e.g. --listen 0.0.0.0:2222
  --host-key FILE          Private host key (default: generated on first run,
                           ed25519, in $XDG_CONFIG_HOME/warren/host_ed25519_key
                           or ~/.config/warren/host_ed25519_key).
                           e.g. --host-key /etc/warren/host_ed25519_key
  --permit-open HOST:PORT  Only these local/SOCKS tunnel destinations ('*' for
                           any host or port; repeatable; default: any).
                           e.g. --permit-open db.internal:5432 --permit-open localhost:*
  --permit-listen [ADDR:]PORT
                           Only these remote tunnel listeners (port 0: ports
                           the server picks; repeatable; default: any).
                           e.g. --permit-listen 8080 --permit-listen 0
  --permit-streamlocal PATH
                           Unix socket tunnels to and on these paths
                           (absolute; wildcards * and ?; repeatable; default:
                           none).  e.g. --permit-streamlocal '/run/app/*.sock'
  --gateway-ports          Let remote tunnels listen on other addresses than
                           loopback, as the client asks (sshd's GatewayPorts
                           clientspecified).     e.g. --gateway-ports
  --max-startups N|START:RATE:FULL
                           Clients that may wait to authenticate at once, as
                           sshd's MaxStartups: from START on, RATE% of new
                           ones are refused, rising to all at FULL (default
                           10:30:100; N alone is a hard cap).
                           e.g. --max-startups 20
  -v, --verbose            More detail (repeatable).   -q, --quiet: errors only.

Offered: public-key authentication, direct-tcpip (-L, SOCKS), tcpip-forward
and its cancel (-R, port 0 too), Unix socket tunnels under --permit-streamlocal
(direct-streamlocal, streamlocal-forward), keepalive replies. Refused: passwords,
sessions (shell, exec, subsystems), agent and X11 forwarding.
`;

const OPTIONS = {
  listen: { type: "string" },
  "host-key": { type: "string" },
  "authorized-keys": { type: "string" },
  "permit-open": { type: "string", multiple: true },
  "permit-listen": { type: "string", multiple: true },
  "permit-streamlocal": { type: "string", multiple: true },
  "gateway-ports": { type: "boolean" },
  "max-startups": { type: "string" },
  verbose: { type: "boolean", short: "v", multiple: true },
  quiet: { type: "boolean", short: "q" },
  help: { type: "boolean", short: "h" },
} as const;

export interface ServeConfig {
  hostname: string;
  port: number;
  /** undefined = the default path, generated when missing. */
  hostKeyPath?: string;
  authorizedKeysFile: string;
  permitOpen?: OpenPermit[];
  permitListen?: ListenPermit[];
  /** Unix socket path patterns; undefined = none. */
  permitStreamLocal?: string[];
  gatewayPorts: boolean;
  /** undefined = sshd's default, 10:30:100. */
  maxStartups?: Startups;
  verbosity: number;
}

export const DEFAULT_LISTEN = { hostname: "127.0.0.1", port: 2222 };

/** Parse `warren serve` arguments (pure). */
export function parseServeArgs(
  argv: string[],
): { kind: "help" } | { kind: "run"; config: ServeConfig } {
  const parsed = parseCommand("serve", {
    args: argv,
    options: OPTIONS,
    allowPositionals: true,
    strict: true,
  });
  const v = parsed.values;
  if (v.help) return { kind: "help" };
  if (parsed.positionals.length > 0) {
    throw new UsageError(`serve: unexpected argument '${parsed.positionals[0]}'`);
  }
  if (v["authorized-keys"] === undefined) {
    throw new UsageError(
      "serve: --authorized-keys FILE is required: warren serve admits only the public keys " +
        "listed there, and without them nobody could log in",
    );
  }
  const permits = <T>(values: string[] | undefined, parse: (t: string) => T) => {
    if (values === undefined) return undefined;
    return values.map((text) => {
      try {
        return parse(text);
      } catch (err) {
        throw new UsageError(`serve: ${messageOf(err)}`);
      }
    });
  };
  return {
    kind: "run",
    config: {
      ...parseListen(v.listen),
      hostKeyPath: v["host-key"],
      authorizedKeysFile: v["authorized-keys"],
      permitOpen: permits(v["permit-open"], parseOpenPermit),
      permitListen: permits(v["permit-listen"], parseListenPermit),
      permitStreamLocal: permits(v["permit-streamlocal"], (p) => {
        if (!p.startsWith("/")) {
          throw new SyntaxError(`--permit-streamlocal '${p}': not an absolute path`);
        }
        return p;
      }),
      gatewayPorts: v["gateway-ports"] ?? false,
      maxStartups: startups(v["max-startups"]),
      verbosity: (v.verbose?.length ?? 0) - (v.quiet ? 1 : 0),
    },
  };
}

function startups(text: string | undefined): Startups | undefined {
  if (text === undefined) return undefined;
  try {
    return parseStartups(text);
  } catch (err) {
    throw new UsageError(`serve: invalid --max-startups '${text}': ${messageOf(err)}`);
  }
}

/** "[ADDR:]PORT": an IPv4 address or name, [IPv6], '*' or 'localhost'. */
export function parseListen(text: string | undefined): { hostname: string; port: number } {
  if (text === undefined) return { ...DEFAULT_LISTEN };
  const what = `serve: invalid --listen '${text}'`;
  const m = /^(?:(\[[^\]]*\]|[^:]*):)?([^:]*)$/.exec(text);
  if (!m) throw new UsageError(`${what}: expected [ADDR:]PORT (IPv6 in brackets)`);
  const port = parsePort(m[2], what);
  if (m[1] === undefined) return { hostname: DEFAULT_LISTEN.hostname, port };
  const address = parseAddress(m[1], what);
  const hostname = address === "*" ? "::" : address === "localhost" ? "127.0.0.1" : address;
  return { hostname, port };
}

async function loadKeys(file: string): Promise<number> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (err) {
    throw new ConfigError(`serve: cannot read authorized keys ${file}: ${fileProblem(err)}`);
  }
  const { keys, problems } = parseAuthorizedKeys(text, file);
  for (const p of problems) log.warn("{file}:{line}: skipped: {msg}", { ...p, msg: p.message });
  if (keys.length === 0) {
    throw new ConfigError(`serve: ${file} has no usable key: nobody could log in`);
  }
  return keys.length;
}

function signalled(): { wait: Promise<Deno.Signal>; stop: () => void } {
  const got = Promise.withResolvers<Deno.Signal>();
  return { wait: got.promise, stop: listenForSignals(stopSignals(), got.resolve) };
}

export async function runServe(argv: string[], env: Env): Promise<number> {
  const parsed = parseServeArgs(argv);
  if (parsed.kind === "help") {
    console.log(SERVE_HELP);
    return EXIT_OK;
  }
  const c = parsed.config;
  setupLogging(levelFor(c.verbosity));
  const generate = c.hostKeyPath === undefined;
  const unix = c.permitStreamLocal
    ? [`Unix sockets under --permit-streamlocal (connecting and creating them need write access)`]
    : [];
  scopePermissions("before starting", {
    write: [...(generate ? ["the host key, generated on first run"] : []), ...unix],
    env: generate ? ["the host key's default path ($XDG_CONFIG_HOME, $HOME)"] : [],
  });
  const keyCount = await loadKeys(c.authorizedKeysFile);
  const hostKey = await loadHostKey(
    c.hostKeyPath ?? defaultHostKeyPath(env),
    c.hostKeyPath === undefined,
  );
  if (hostKey.generated) {
    log.info("Generated a new ed25519 host key: {path} (mode 0600; public key in {path}.pub)", {
      path: hostKey.path,
    });
  }
  const signals = signalled();
  const stopTrim = startMemoryTrim();
  try {
    const server = await WarrenServer.start({ ...c, hostKey }).catch((err) => {
      // '*' is "::" (both families); on a host without IPv6, IPv4 alone.
      if (c.hostname !== "::") throw err;
      return WarrenServer.start({ ...c, hostname: "0.0.0.0", hostKey });
    });
    const addr = server.address;
    log.info("Host key {type} {fp} ({path})", {
      type: hostKey.type,
      fp: hostKey.fingerprint,
      path: hostKey.path,
    });
    log.info("Listening on {addr}: {n} authorized key(s) from {file}", {
      addr: hostPort(addr.hostname, addr.port),
      n: keyCount,
      file: c.authorizedKeysFile,
    });
    const list = (p?: (OpenPermit | ListenPermit)[]) => p ? p.map(formatPermit).join(", ") : "any";
    log.info("Local tunnels to: {open}; remote tunnels on: {listen} ({where})", {
      open: list(c.permitOpen),
      listen: list(c.permitListen),
      where: c.gatewayPorts ? "addresses as asked, --gateway-ports" : "loopback only",
    });
    if (!isLoopback(addr.hostname)) {
      log.warn("Listening on {addr}: other hosts can connect", {
        addr: hostPort(addr.hostname, addr.port),
      });
    }
    scopePermissions("once listening", { write: unix });
    const signal = await signals.wait;
    log.info("Received {signal}: closing connections", { signal });
    await server.close();
    return EXIT_OK;
  } finally {
    signals.stop();
    stopTrim();
  }
}

export const serveCommand: Subcommand = {
  summary: "An SSH server for tunnels only (public keys, -L/-R/SOCKS; no shells)",
  run: runServe,
};
