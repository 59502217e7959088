/**
 * `warren broker [--config FILE] [-a ADDRESS]`: run the broker in the
 * foreground until SIGINT/SIGTERM or `warren ctl stop`; SIGHUP re-reads
 * the config like `warren ctl reload`.
 *
 * Start-up: read the config (a mistake: one FILE:LINE:COL line, exit 2),
 * claim the control endpoint (a broker already there: exit 1), open the
 * listeners, then log "Broker ready". Logging follows `<logging>` unless
 * -v/-q say otherwise.
 */
import { startMemoryTrim } from "../net/trim.ts";
import { parseCommand } from "../cli/parse_command.ts";
import type { Env } from "../config/env.ts";
import { parseDebugLevel } from "../cli/args.ts";
import { listenForSignals, stopSignals } from "../cli/signals.ts";
import type { Subcommand } from "./subcommand.ts";
import type { BrokerConfig } from "../config/tectia/model.ts";
import { loadBrokerConfig, resolveConfigPath } from "../config/tectia/load.ts";
import { EXIT_OK, messageOf, UsageError } from "../errors.ts";
import { levelFor, logger, setLogWriter, setupLogging } from "../log.ts";
import { formatControlAddress, resolveControlAddress } from "../broker/address.ts";
import { Broker } from "../broker/broker.ts";
import { ControlServer } from "../broker/control.ts";

const log = logger("broker");

export const BROKER_HELP = `Usage: warren broker [--config FILE] [-a ADDRESS] [-v|-q]

Run the broker in the foreground: static tunnels listen at once, each
profile's SSH connection opens on its first client and is shared by all of
its tunnels; connect-on-startup profiles connect now. Stop with Ctrl-C,
SIGTERM or 'warren ctl stop'; SIGHUP re-reads the config ('warren ctl reload').

  -c, --config FILE          The config (default $WARREN_CONFIG, then
                             ~/.ssh2/ssh-broker-config.xml).
  -a, --broker-address ADDR  The control endpoint: a Unix socket path, or
                             tcp:PORT (loopback, with a token file). Default
                             $WARREN_BROKER, then $XDG_RUNTIME_DIR/warren/broker.sock
                             or /tmp/warren-$UID/broker.sock.
  -v, --verbose / -q, --quiet / -D LEVEL
                             More or less logging than <logging> asks for.`;

const SEVERITY_VERBOSITY = { debug: 1, info: 0, warning: -1, error: -1 } as const;

function parse(args: string[]) {
  return parseCommand("broker", {
    args,
    options: {
      config: { type: "string", short: "c" },
      "broker-address": { type: "string", short: "a" },
      verbose: { type: "boolean", short: "v", multiple: true },
      quiet: { type: "boolean", short: "q" },
      debug: { type: "string", short: "D" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: false,
    strict: true,
  });
}

/** Logging as `<logging>` says, unless the command line chose a level. */
function setupBrokerLogging(config: BrokerConfig, verbosity: number | undefined): () => void {
  const { target, file, severity } = config.logging;
  let level = levelFor(verbosity ?? SEVERITY_VERBOSITY[severity]);
  if (verbosity === undefined && severity === "warning") level = "warning";
  let cleanup = () => {};
  if (target === "discard") {
    setLogWriter(() => {});
  } else if (target === "file" && file) {
    const handle = Deno.openSync(file, { append: true, create: true, mode: 0o600 });
    const encoder = new TextEncoder();
    setLogWriter((line) => {
      const data = encoder.encode(line);
      for (let off = 0; off < data.length;) off += handle.writeSync(data.subarray(off));
    });
    cleanup = () => handle.close();
  }
  setupLogging(level);
  if (target === "syslog") {
    log.warn('<log-target type="syslog"> is not supported: logging to stderr');
  }
  return cleanup;
}

async function run(args: string[], env: Env): Promise<number> {
  const { values } = parse(args);
  if (values.help) {
    console.log(BROKER_HELP);
    return EXIT_OK;
  }
  let verbosity: number | undefined;
  if (values.verbose || values.quiet) {
    verbosity = (values.verbose?.length ?? 0) - (values.quiet ? 1 : 0);
  }
  if (values.debug !== undefined && parseDebugLevel(values.debug) > 0) {
    verbosity = Math.max(verbosity ?? 0, parseDebugLevel(values.debug) >= 3 ? 2 : 1);
  }
  const address = resolveControlAddress(values["broker-address"], env);
  const path = resolveConfigPath(values.config, env);
  const config = await loadBrokerConfig(path, env);
  const closeLog = setupBrokerLogging(config, verbosity);
  try {
    for (const w of config.warnings ?? []) log.warn("{w}", { w });
    return await serve(config, path, address, env);
  } finally {
    closeLog();
  }
}

async function serve(
  config: BrokerConfig,
  path: string,
  address: ReturnType<typeof resolveControlAddress>,
  env: Env,
): Promise<number> {
  const shown = formatControlAddress(address);
  const broker = new Broker(config, { env, control: shown });
  const stop = Promise.withResolvers<string>();
  let reloading: Promise<unknown> = Promise.resolve();
  const reload = () => {
    const next = reloading.then(async () => {
      const fresh = await loadBrokerConfig(path, env);
      for (const w of fresh.warnings ?? []) log.warn("{w}", { w });
      return await broker.reload(fresh);
    });
    reloading = next.catch(() => {});
    return next;
  };
  const server = await ControlServer.open(address, async (command, args) => {
    switch (command) {
      case "status":
        return broker.status();
      case "list-connections":
        return broker.connections();
      case "list-tunnel-listeners":
        return broker.listeners();
      case "open-tunnel-listener":
        return await broker.openListener(
          args.direction === "remote" ? "remote" : "local",
          String(args.spec ?? ""),
          String(args.profile ?? ""),
        );
      case "close-tunnel-listener":
        return await broker.closeListener(String(args.listener ?? ""));
      case "close-connection":
        return broker.closeConnection(Number(args.id));
      case "reload":
        return await reload();
      case "stop":
        queueMicrotask(() => stop.resolve("warren ctl stop"));
        return { pid: Deno.pid };
      default:
        throw new UsageError(`Unknown command '${command}'`);
    }
  }, env);
  // SIGHUP re-reads the config here (Windows has none); the others stop.
  const stopListening = listenForSignals(stopSignals(), (s) => {
    if (s !== "SIGHUP") return stop.resolve(s);
    log.info("SIGHUP: reloading {file}", { file: path });
    reload().catch((err) => log.error("Reload failed: {err}", { err: messageOf(err) }));
  });
  const stopTrim = startMemoryTrim();
  try {
    await broker.start();
    log.info("Broker ready: {n} tunnel listener(s), {p} profile(s); control at {addr}", {
      n: broker.listeners().length,
      p: config.profiles.length,
      addr: shown,
    });
    const why = await stop.promise;
    log.info("Stopping ({why})", { why });
  } finally {
    stopListening();
    stopTrim();
    await server.close();
    await reloading;
    await broker.stop();
  }
  log.info("Broker stopped");
  return EXIT_OK;
}

export const brokerCommand: Subcommand = {
  summary: "run the broker: warren broker [--config FILE] [-a ADDRESS]",
  run,
};
