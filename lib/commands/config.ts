/**
 * `warren config check [FILE]` and `warren config dump [FILE]`: read an
 * ssh-broker-config.xml as the broker would (FILE, else --config FILE, else
 * $WARREN_CONFIG, else ~/.ssh2/ssh-broker-config.xml).
 *
 * check: exit 0 and a one-line summary if the file is good; warnings for
 * Tectia elements warren ignores, and for key, host key and password files
 * that are not there, go to stderr. dump: the effective config
 * (defaults filled in, variables expanded) as XML on stdout. A mistake in
 * the file: one line `warren: FILE:LINE:COL: message` for each, all in one
 * run, exit 2.
 */
import { parseCommand } from "../cli/parse_command.ts";
import type { Env } from "../config/env.ts";
import type { Subcommand } from "./subcommand.ts";
import { EXIT_OK, UsageError } from "../errors.ts";
import { dumpBrokerConfig, loadBrokerConfig, resolveConfigPath } from "../config/tectia/load.ts";
import {
  describeHostKeyDirectory,
  hostKeyDirectories,
  hostKeyDirectoryWarnings,
  missingFiles,
} from "../config/tectia/files.ts";

export const CONFIG_HELP = `Usage:
  warren config check [FILE]   Check an ssh-broker-config.xml; errors read FILE:LINE:COL
  warren config dump [FILE]    Print the effective config (defaults, variables expanded)

FILE defaults to --config FILE, then $WARREN_CONFIG, then ~/.ssh2/ssh-broker-config.xml.
Exit status: 0 good (warnings name Tectia settings warren ignores), 2 a mistake.
Reference of every element: config/REFERENCE.md.`;

async function run(args: string[], env: Env): Promise<number> {
  const parsed = parseCommand("config", {
    args,
    options: { config: { type: "string", short: "c" }, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
    strict: true,
  });
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(CONFIG_HELP);
    return EXIT_OK;
  }
  const [action, file, extra] = positionals;
  if (action !== "check" && action !== "dump") {
    throw new UsageError(
      action === undefined
        ? "config: missing action: warren config check|dump [FILE]"
        : `config: unknown action '${action}': use check or dump`,
    );
  }
  if (extra !== undefined) throw new UsageError(`config ${action}: unexpected argument '${extra}'`);
  if (file !== undefined && values.config !== undefined) {
    throw new UsageError(`config ${action}: give FILE or --config FILE, not both`);
  }
  const path = resolveConfigPath(file ?? values.config, env);
  const config = await loadBrokerConfig(path, env);
  for (const w of config.warnings ?? []) console.error(`warren: warning: ${w}`);
  const dirs = await hostKeyDirectories(config);
  if (action === "dump") {
    const notes = {
      hostKeyDirectory: (p: string) => {
        const dir = dirs.get(p);
        return dir && describeHostKeyDirectory(dir);
      },
    };
    await Deno.stdout.write(new TextEncoder().encode(dumpBrokerConfig(config, notes)));
    return EXIT_OK;
  }
  for (const w of await missingFiles(config)) console.error(`warren: warning: ${w}`);
  for (const w of hostKeyDirectoryWarnings(config, dirs)) console.error(`warren: warning: ${w}`);
  const n = (count: number, what: string) => `${count} ${what}${count === 1 ? "" : "s"}`;
  const tunnels = config.profiles.reduce((sum, p) => sum + p.tunnels.length, 0);
  console.log(
    `${path}: OK: ${n(config.profiles.length, "profile")}, ${n(tunnels, "profile tunnel")}, ` +
      `${n(config.staticTunnels.length, "static tunnel")}`,
  );
  return EXIT_OK;
}

export const configCommand: Subcommand = {
  summary: "check or dump a broker config: warren config check|dump [FILE]",
  run,
};
