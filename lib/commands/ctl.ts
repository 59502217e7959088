/**
 * `warren ctl [-a ADDRESS] [--json] COMMAND ...`: talk to a running broker
 * (modelled on Tectia's ssh-broker-ctl). Listings print a table, or the
 * broker's JSON with --json. No broker at the address: one line, exit 1.
 */
import { parseCommand } from "../cli/parse_command.ts";
import type { Env } from "../config/env.ts";
import type { Subcommand } from "./subcommand.ts";
import { EXIT_OK, UsageError, WarrenError } from "../errors.ts";
import { clientAddress, proxyEnvironment, shellExports } from "../tunnel/proxy/env.ts";
import { resolveControlAddress } from "../broker/address.ts";
import type { BrokerStatus, ReloadSummary } from "../broker/broker.ts";
import { controlRequest } from "../broker/control_client.ts";
import { bytes, duration, table } from "../broker/format.ts";
import type { ListenerInfo } from "../broker/listeners.ts";
import type { SessionInfo } from "../profiles/session.ts";

export const CTL_HELP = `Usage: warren ctl [-a ADDRESS] [--json] COMMAND

Commands:
  status                          pid, uptime, config file, counts
  list-connections                SSH connections: id, profile, host, state,
                                  channels, bytes each way, since
  list-tunnel-listeners           listeners: id, type, listen address,
                                  destination, profile, connections, bytes
  open-tunnel-listener [-L|-R] SPEC PROFILE
                                  open a listener on a profile's connection;
                                  SPEC as for -L/-R (default -L), PROFILE an
                                  id or name.  e.g. -L 8080:intranet:80 bastion
  close-tunnel-listener ID|[ADDRESS]:PORT
                                  e.g. 3, :8080, [::1]:8080, 127.0.0.1:8080
  env [LISTENER]                  proxy variables (ALL_PROXY, HTTP_PROXY,
                                  HTTPS_PROXY) for a socks listener (the first
                                  one, or LISTENER's id) as shell exports:
                                  eval "$(warren ctl env)"
  close-connection ID             close a connection; its listeners stay
  reload                          re-read the config: add and remove what
                                  changed, keep the rest and its connections
  stop                            stop the broker

  -a, --broker-address ADDR  The broker's control endpoint (default
                             $WARREN_BROKER, then the broker's default).
  --json                     Print the broker's answer as JSON.`;

function parse(args: string[]) {
  return parseCommand("ctl", {
    args,
    options: {
      "broker-address": { type: "string", short: "a" },
      json: { type: "boolean" },
      localfwd: { type: "string", short: "L" },
      remotefwd: { type: "string", short: "R" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
    strict: true,
  });
}

const ARITY: Record<string, [number, string]> = {
  status: [0, ""],
  "list-connections": [0, ""],
  "list-tunnel-listeners": [0, ""],
  "close-tunnel-listener": [1, " ID|[ADDRESS]:PORT"],
  "close-connection": [1, " ID"],
  reload: [0, ""],
  stop: [0, ""],
};

/** The request for a command line; throws UsageError for a bad one. */
export function ctlRequest(
  positionals: string[],
  forwards: { local?: string; remote?: string },
): { command: string; args: Record<string, unknown> } {
  const [command, ...rest] = positionals;
  if (command === undefined) throw new UsageError("ctl: missing command (see 'warren ctl --help')");
  if (command === "open-tunnel-listener") {
    if (forwards.local !== undefined && forwards.remote !== undefined) {
      throw new UsageError("ctl open-tunnel-listener: give -L or -R, not both");
    }
    const given = forwards.local ?? forwards.remote;
    const [spec, profile, extra] = given === undefined ? rest : [given, ...rest];
    if (spec === undefined || profile === undefined || extra !== undefined) {
      throw new UsageError("ctl open-tunnel-listener: expected [-L|-R] SPEC PROFILE");
    }
    return {
      command,
      args: { direction: forwards.remote !== undefined ? "remote" : "local", spec, profile },
    };
  }
  if (forwards.local !== undefined || forwards.remote !== undefined) {
    throw new UsageError(`ctl ${command}: -L/-R belong to open-tunnel-listener`);
  }
  const arity = ARITY[command];
  if (!arity) throw new UsageError(`ctl: unknown command '${command}' (see 'warren ctl --help')`);
  if (rest.length !== arity[0]) {
    throw new UsageError(`ctl ${command}: expected 'warren ctl ${command}${arity[1]}'`);
  }
  if (command === "close-connection") {
    if (!/^\d+$/.test(rest[0])) {
      throw new UsageError(`ctl close-connection: '${rest[0]}' is not an id`);
    }
    return { command, args: { id: Number(rest[0]) } };
  }
  if (command === "close-tunnel-listener") return { command, args: { listener: rest[0] } };
  return { command, args: {} };
}

function statusText(s: BrokerStatus): string {
  return table(["", ""], [
    ["pid", String(s.pid)],
    ["version", s.version],
    ["uptime", `${duration(s.uptimeSeconds)} (since ${s.started})`],
    ["config", s.config],
    ["control", s.control],
    ["profiles", String(s.profiles)],
    ["connections", String(s.connections)],
    ["listeners", String(s.listeners)],
  ]).split("\n").slice(1).join("\n");
}

function connectionsText(list: SessionInfo[]): string {
  return table(
    ["ID", "PROFILE", "HOST", "STATE", "CHANNELS", "SENT", "RECEIVED", "SINCE"],
    list.map((c) => [
      String(c.id),
      c.profile,
      c.host,
      c.state,
      c.forwards > 0 ? `${c.channels} (+${c.forwards} fwd)` : String(c.channels),
      bytes(c.sent),
      bytes(c.received),
      c.since.replace(/\.\d+Z$/, "Z"),
    ]),
  );
}

function listenersText(list: ListenerInfo[]): string {
  return table(
    [
      "ID",
      "TYPE",
      "LISTEN",
      "DESTINATION",
      "PROFILE",
      "FROM",
      "CONNS",
      "SENT",
      "RECEIVED",
      "STATE",
    ],
    list.map((l) => [
      String(l.id),
      `${l.direction === "local" ? "-L" : "-R"} ${l.type}`,
      l.listen.join(",") + (l.direction === "remote" ? " (server)" : ""),
      l.destination,
      l.profile,
      l.origin,
      `${l.connections}/${l.total}`,
      bytes(l.sent),
      bytes(l.received),
      l.state,
    ]),
  );
}

function describe(l: ListenerInfo): string {
  const dir = l.direction === "local" ? "-L" : "-R";
  return `${l.id}: ${dir} ${l.type} ${l.listen.join(", ")}${
    l.direction === "remote" ? " (on the server)" : ""
  } -> ${l.destination} (profile ${l.profile})`;
}

/** The human text for a command's result. */
export function resultText(command: string, result: unknown): string {
  switch (command) {
    case "status":
      return statusText(result as BrokerStatus);
    case "list-connections":
      return connectionsText(result as SessionInfo[]);
    case "list-tunnel-listeners":
      return listenersText(result as ListenerInfo[]);
    case "open-tunnel-listener":
      return `Opened tunnel listener ${describe(result as ListenerInfo)}`;
    case "close-tunnel-listener":
      return `Closed tunnel listener ${describe(result as ListenerInfo)}`;
    case "close-connection": {
      const c = result as SessionInfo;
      return `Closed connection ${c.id} to ${c.host} (profile ${c.profile})`;
    }
    case "reload": {
      const r = result as ReloadSummary;
      const replaced = r.replacedProfiles.length
        ? `; new connection settings for ${r.replacedProfiles.join(", ")}`
        : "";
      return `Reloaded: ${r.added} listener(s) added, ${r.removed} removed, ${r.kept} kept${replaced}`;
    }
    case "stop":
      return `Broker (pid ${(result as { pid: number }).pid}) is stopping`;
    default:
      return JSON.stringify(result);
  }
}

/** `ctl env [LISTENER]`: the proxy variables of a local socks listener, as shell exports. */
export function envText(list: ListenerInfo[], ref?: string): string {
  if (ref !== undefined && !/^\d+$/.test(ref)) {
    throw new UsageError(`ctl env: '${ref}' is not a listener id`);
  }
  const socks = list.filter((l) =>
    l.direction === "local" && l.type === "socks" && (ref === undefined || l.id === Number(ref))
  );
  if (socks.length === 0) {
    throw new WarrenError(
      "tunnel",
      ref === undefined ? "The broker has no socks listener" : `No socks listener ${ref}`,
    );
  }
  const addresses = socks[0].listen.map((a) => {
    const m = /^\[?(.*?)\]?:(\d+)$/.exec(a)!;
    return { hostname: m[1], port: Number(m[2]) };
  });
  return shellExports(proxyEnvironment(clientAddress(addresses)));
}

async function run(args: string[], env: Env): Promise<number> {
  const { values, positionals } = parse(args);
  if (values.help) {
    console.log(CTL_HELP);
    return EXIT_OK;
  }
  if (positionals[0] === "env") {
    if (positionals.length > 2) {
      throw new UsageError("ctl env: expected 'warren ctl env [LISTENER]'");
    }
    const address = resolveControlAddress(values["broker-address"], env);
    const list = await controlRequest(address, "list-tunnel-listeners", {}) as ListenerInfo[];
    console.log(envText(list, positionals[1]));
    return EXIT_OK;
  }
  const { command, args: reqArgs } = ctlRequest(positionals, {
    local: values.localfwd,
    remote: values.remotefwd,
  });
  const address = resolveControlAddress(values["broker-address"], env);
  const result = await controlRequest(address, command, reqArgs);
  console.log(values.json ? JSON.stringify(result, null, 2) : resultText(command, result));
  return EXIT_OK;
}

export const ctlCommand: Subcommand = {
  summary: "control a running broker: warren ctl [-a ADDRESS] COMMAND",
  run,
};
