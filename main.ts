/**
 * warren's entry point: parse the command line, run, map errors to exit
 * codes (0 ok, 1 runtime failure, 2 usage). Nothing else lives here.
 */
import { HELP } from "./lib/cli/help.ts";
import { formatEffectiveConfig } from "./lib/cli/print_config.ts";
import { activeCrypto, configureCrypto } from "./lib/ssh/crypto/hook.ts";
import { windowError } from "./lib/ssh/window.ts";
import { SUBCOMMANDS } from "./lib/commands/registry.ts";
import { isBackgroundChild, runInBackground } from "./lib/cli/background.ts";
import { causeChain, ConfigError, EXIT_USAGE, exitCodeFor, UsageError } from "./lib/errors.ts";
import { levelFor, setupLogging } from "./lib/log.ts";
import { dropPermission, scopePermissions } from "./lib/cli/scope.ts";
import { bindMemoryTrim } from "./lib/net/trim.ts";
import { foregroundNeeds } from "./lib/cli/client_scope.ts";
import { versionLine } from "./lib/version.ts";
import { enterTaskCwd } from "./lib/cli/task_cwd.ts";
import { terminalPrompter } from "./lib/ssh/prompt.ts";

/** The client command, loaded only when no subcommand runs. */
const client = () => import("./lib/commands/client.ts");

function fail(err: unknown, verbosity: number): number {
  const line = verbosity > 0 ? causeChain(err) : (err instanceof Error ? err.message : String(err));
  // A config file's mistakes are one line each, all in one run, each its own warren: line.
  const lines = err instanceof ConfigError ? line.split("\n") : [line];
  for (const l of lines) console.error(`warren: ${l}`);
  if (err instanceof UsageError && !(err instanceof ConfigError)) {
    console.error("Try 'warren --help' for more information.");
  }
  return exitCodeFor(err);
}

async function main(args: string[]): Promise<number> {
  const env = (name: string) => Deno.env.get(name);
  try {
    enterTaskCwd();
    const crypto = configureCrypto(env("WARREN_CRYPTO"));
    if (windowError) throw new UsageError(windowError);
    // libcrypto was loaded (or passed over) when the crypto module loaded.
    const skipped = activeCrypto().fallbackReason;
    // glibc's malloc_trim, for memory after load (lib/net/trim.ts): bound while ffi is granted.
    const trim = env("WARREN_CRYPTO") !== "builtin" && bindMemoryTrim()
      ? ", bound malloc_trim"
      : "";
    dropPermission(
      "ffi",
      (skipped ? `libcrypto not used: ${skipped}` : `loaded ${crypto.description}`) + trim,
    );
  } catch (err) {
    return fail(err, 0);
  }
  const load = args.length > 0 && Object.hasOwn(SUBCOMMANDS, args[0]) ? SUBCOMMANDS[args[0]] : null;
  if (load) {
    try {
      return await (await load()).run(args.slice(1), env);
    } catch (err) {
      return fail(err, args.includes("-v") || args.includes("--verbose") ? 1 : 0);
    }
  }
  let parsed;
  try {
    parsed = await (await client()).parseClientCommandLine(args, env);
  } catch (err) {
    return err instanceof UsageError ? fail(err, 0) : fail(err, 1);
  }
  if (parsed.kind === "help") {
    console.log(HELP);
    return 0;
  }
  if (parsed.kind === "version") {
    console.log(versionLine());
    return 0;
  }
  if (parsed.kind === "dump") {
    for (const line of parsed.config.warnings ?? []) console.error(`warren: warning: ${line}`);
    console.log(formatEffectiveConfig(parsed.config, env));
    return 0;
  }
  const config = parsed.config;
  setupLogging(levelFor(config.verbosity));
  try {
    if (config.background && !isBackgroundChild()) {
      scopePermissions("in the -f foreground", foregroundNeeds());
      return await runInBackground(
        args,
        (pid) => console.log(pid),
        terminalPrompter(config.batchMode),
      );
    }
    return await (await client()).runClient(config);
  } catch (err) {
    return fail(err, config.verbosity);
  }
}

if (import.meta.main) {
  const code = await main(Deno.args).catch((err) => {
    console.error(`warren: internal error: ${causeChain(err)}`);
    return EXIT_USAGE - 1;
  });
  Deno.exit(code);
}
