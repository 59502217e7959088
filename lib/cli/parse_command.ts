/**
 * `node:util` parseArgs for warren's commands: a mistake on the command line is
 * a UsageError (exit 2), led by the subcommand's name, with node's own advice
 * about positionals cut (it names a fix that does not apply to warren).
 *
 * An option's value that starts with a dash (`-L -1:a:1`, `-p -1`) is taken
 * as the value, as getopt (and so OpenSSH) takes it, unless it is itself one
 * of the command's options: parseArgs calls both "ambiguous" in three lines.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { messageOf, UsageError } from "../errors.ts";

/** parseArgs(config), or a UsageError "COMMAND: what is wrong" (no prefix for the client). */
export function parseCommand<T extends ParseArgsConfig>(
  command: string | undefined,
  config: T,
): ReturnType<typeof parseArgs<T>> {
  const prefix = command === undefined ? "" : `${command}: `;
  let args = config.args ?? [];
  for (let tries = 0;; tries++) {
    try {
      return parseArgs({ ...config, args } as T);
    } catch (err) {
      const ambiguous = /^Option '(-[^' ]+)' argument is ambiguous/.exec(messageOf(err));
      const joined = ambiguous && tries < args.length &&
        joinDashValue(args, ambiguous[1], config.options ?? {});
      if (typeof joined === "string") throw new UsageError(prefix + joined);
      if (joined) {
        args = joined;
        continue;
      }
      const why = messageOf(err).replace(/\. To specify a positional.*$/s, "");
      throw new UsageError(prefix + why);
    }
  }
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * `flag VALUE` → `--long=VALUE` when VALUE is not an option; the message when
 * it is; undefined when the flag cannot be found (parseArgs's own text then).
 */
function joinDashValue(args: string[], flag: string, options: Options): string[] | string | void {
  const long = flag.startsWith("--")
    ? flag.slice(2)
    : Object.keys(options).find((name) => options[name].short === flag.slice(1));
  if (long === undefined) return;
  for (let i = 0; i + 1 < args.length && args[i] !== "--"; i++) {
    if (args[i] !== flag || !args[i + 1].startsWith("-")) continue;
    const value = args[i + 1];
    if (value === "--") return `Option '${flag}' needs a value`;
    if (isOption(value, options)) return `Option '${flag}' needs a value; '${value}' is an option`;
    return [...args.slice(0, i), `--${long}=${value}`, ...args.slice(i + 2)];
  }
}

function isOption(token: string, options: Options): boolean {
  if (token === "-") return false;
  if (token.startsWith("--")) return Object.hasOwn(options, token.slice(2).split("=")[0]);
  return Object.values(options).some((o) => o.short === token[1]);
}
