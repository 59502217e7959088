/**
 * Reading Tectia's `ssh-broker-config.xml` into warren's broker model
 * (model.ts), and writing the model back.
 *
 *   resolveConfigPath(explicit, env)  --config FILE, else $WARREN_CONFIG,
 *                                     else ~/.ssh2/ssh-broker-config.xml
 *   loadBrokerConfig(path, env)       read the file and parse it
 *   parseBrokerConfig(text, file, env)
 *   dumpBrokerConfig(config)          the effective config as XML
 *
 * Every mistake is a ConfigError (exit 2) reading `FILE:LINE:COL: message`.
 * Supported elements and attributes: config/REFERENCE.md.
 */
import { resolve } from "node:path";
import type { Env } from "../env.ts";
import { ConfigError, fileProblem } from "../../errors.ts";
import type { BrokerConfig } from "./model.ts";
import { checkBrokerConfig } from "./check.ts";
import { readBrokerConfig } from "./read.ts";
import { ReadContext } from "./read_context.ts";
import { parseXmlTree } from "./xml_tree.ts";
import { homeDir, localUser } from "../env.ts";
// Where the file is, with no XML reader loaded: lib/config/env.ts.
export { resolveConfigPath } from "../env.ts";

export { dumpBrokerConfig } from "./dump.ts";

/** Read and parse a config file; the model's `file` is its absolute path. */
export async function loadBrokerConfig(path: string, env: Env): Promise<BrokerConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new ConfigError(`Cannot read config file ${path}: ${fileProblem(err)}`, { cause: err });
  }
  const config = parseBrokerConfig(text, path, env);
  config.file = resolve(path);
  return config;
}

/**
 * Parse the text of a config file. `file` names it in messages and is the
 * base for relative paths in it.
 */
export function parseBrokerConfig(text: string, file: string, env: Env): BrokerConfig {
  const ctx = new ReadContext(file, { env, user: localUser(env), home: homeDir(env) });
  const root = parseXmlTree(text, file);
  const read = ctx.guard(() => readBrokerConfig(root, ctx));
  if (read) checkBrokerConfig(ctx, read.config, read.origins);
  ctx.throwErrors(); // every mistake found, in file order
  return read!.config;
}
