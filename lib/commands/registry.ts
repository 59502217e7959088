/**
 * Subcommands: `warren NAME ...` where NAME is the first argument. Anything
 * else is the client (`warren [options] host`). A host that happens to be
 * called like a subcommand is reached as `user@NAME` or `ssh://NAME`.
 *
 * Each subcommand is one file of this folder and gets the arguments after its
 * name; it returns the exit code and throws UsageError/WarrenError for main.ts
 * to report.
 *
 * Each is loaded only when it runs (a plain `warren -L` loads no XML reader
 * and no server). The specifiers are literal, so `deno compile` still sees
 * and embeds every module.
 */
import type { Subcommand } from "./subcommand.ts";

export const SUBCOMMANDS: Record<string, () => Promise<Subcommand>> = {
  config: async () => (await import("./config.ts")).configCommand,
  broker: async () => (await import("./broker.ts")).brokerCommand,
  ctl: async () => (await import("./ctl.ts")).ctlCommand,
  "probe-key": async () => (await import("./probe_key.ts")).probeKeyCommand,
  serve: async () => (await import("./serve.ts")).serveCommand,
};
