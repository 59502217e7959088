/**
 * `node:util` parseArgs for warren's commands: a mistake on the command line is
 * a UsageError (exit 2), led by the subcommand's name, with node's own advice
 * about positionals cut (it names a fix that does not apply to warren).
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { messageOf, UsageError } from "../errors.ts";

/** parseArgs(config), or a UsageError "COMMAND: what is wrong" (no prefix for the client). */
export function parseCommand<T extends ParseArgsConfig>(
  command: string | undefined,
  config: T,
): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    const why = messageOf(err).replace(/\. To specify a positional.*$/s, "");
    throw new UsageError(command === undefined ? why : `${command}: ${why}`);
  }
}
