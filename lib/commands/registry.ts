/**
 * Subcommands: `warren NAME ...` where NAME is the first argument. Anything
 * else is the client (`warren [options] host`). A host that happens to be
 * called like a subcommand is reached as `user@NAME` or `ssh://NAME`.
 *
 * Each subcommand is one file of this folder and gets the arguments after its
 * name; it returns the exit code and throws UsageError/WarrenError for main.ts
 * to report.
 */
import type { Subcommand } from "./subcommand.ts";
import { configCommand } from "./config.ts";
import { brokerCommand } from "./broker.ts";
import { ctlCommand } from "./ctl.ts";
import { probeKeyCommand } from "./probe_key.ts";
import { serveCommand } from "./serve.ts";

export const SUBCOMMANDS: Record<string, Subcommand> = {
  config: configCommand,
  broker: brokerCommand,
  ctl: ctlCommand,
  "probe-key": probeKeyCommand,
  serve: serveCommand,
};
