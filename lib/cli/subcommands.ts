/**
 * Subcommands: `warren NAME ...` where NAME is the first argument. Anything
 * else is the client (`warren [options] host`). A host that happens to be
 * called like a subcommand is reached as `user@NAME` or `ssh://NAME`.
 *
 * Each subcommand lives in its own module and gets the arguments after its
 * name; it returns the exit code and throws UsageError/WarrenError for main.ts
 * to report.
 */
import type { Env } from "../config/env.ts";
import { configCommand } from "../broker/config_command.ts";
import { brokerCommand } from "../broker/broker_command.ts";
import { ctlCommand } from "../broker/ctl_command.ts";
import { probeKeyCommand } from "../broker/probe_key.ts";
import { serveCommand } from "../server/command.ts";

export interface Subcommand {
  /** One line for `warren --help`. */
  summary: string;
  run(args: string[], env: Env): Promise<number>;
}

export const SUBCOMMANDS: Record<string, Subcommand> = {
  // serve: see lib/server/   broker, ctl, config, probe-key: see lib/broker/
  config: configCommand,
  broker: brokerCommand,
  ctl: ctlCommand,
  "probe-key": probeKeyCommand,
  serve: serveCommand,
};
