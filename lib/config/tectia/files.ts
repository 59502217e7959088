/**
 * Files a config names that are not there: `warren config check` reports
 * them as warnings (the config may be meant for another machine, or the file
 * made later), each at the profile that names it. known_hosts files are not
 * checked: a missing one is normal until the first key is saved.
 */
import type { BrokerConfig } from "./model.ts";
import { where } from "./xml_tree.ts";

export async function missingFiles(config: BrokerConfig): Promise<string[]> {
  const out: string[] = [];
  for (const p of config.profiles) {
    const named: [string, string][] = [];
    if (p.hostKeyFile !== undefined) named.push(["host key file", p.hostKeyFile]);
    for (const f of p.identityFiles) named.push(["identity file", f]);
    if (p.passwordSource?.startsWith("file://")) {
      named.push(["password file", p.passwordSource.slice("file://".length)]);
    }
    for (const [what, path] of named) {
      const problem = await statProblem(path);
      if (problem) out.push(`${where(p.source)}: profile '${p.id}': ${what} ${path} ${problem}`);
    }
  }
  return out;
}

async function statProblem(path: string): Promise<string | undefined> {
  try {
    const info = await Deno.stat(path);
    return info.isFile ? undefined : "is not a file";
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return "does not exist";
    return `cannot be read: ${err instanceof Error ? err.message : err}`;
  }
}
