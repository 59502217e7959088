/**
 * What a subcommand is: one line of help and a run function. A leaf, so that
 * the registry and the commands it lists import it without a circle.
 */
import type { Env } from "../config/env.ts";

export interface Subcommand {
  /** One line for `warren --help`. */
  summary: string;
  run(args: string[], env: Env): Promise<number>;
}
