/**
 * Files a config names that are not there: `warren config check` reports
 * them as warnings (the config may be meant for another machine, or the file
 * made later), each at the profile that names it. known_hosts files are not
 * checked: a missing one is normal until the first key is saved.
 */
import type { BrokerConfig } from "./model.ts";
import { where } from "./xml_tree.ts";
import { type HostKeyDirectory, readHostKeyDirectory } from "../host_key_dir.ts";

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

/** The Tectia host key directories a config reads, each with what it holds. */
export async function hostKeyDirectories(
  config: BrokerConfig,
): Promise<Map<string, HostKeyDirectory>> {
  const dirs = new Map<string, HostKeyDirectory>();
  for (const path of config.knownHostsFiles) {
    if (path.endsWith("/")) dirs.set(path, await readHostKeyDirectory(path));
  }
  return dirs;
}

/** What a directory holds, in a few words (for `config dump`). */
export function describeHostKeyDirectory(dir: HostKeyDirectory): string {
  if (dir.missing) return "not there";
  const n = (count: number, what: string) => `${count} ${what}${count === 1 ? "" : "s"}`;
  const parts = [`${n(dir.keys.length, "key")} under key_<port>_<host>.pub`];
  if (dir.hashed.length > 0) {
    parts.push(
      `${n(dir.hashed.length, "key")} under hashed names (keys_*), which warren cannot read`,
    );
  }
  if (dir.unreadable.length > 0) parts.push(`${n(dir.unreadable.length, "unreadable file")}`);
  return parts.join(", ");
}

/** Warnings for `config check`: keys in a directory that warren cannot use. */
export function hostKeyDirectoryWarnings(
  config: BrokerConfig,
  dirs: Map<string, HostKeyDirectory>,
): string[] {
  const out: string[] = [];
  for (const [path, dir] of dirs) {
    if (dir.hashed.length > 0) {
      out.push(
        `${config.file}: ${path} holds ${dir.hashed.length} host key(s) under Tectia's hashed ` +
          "names (keys_*), which warren cannot read (Tectia does not publish the hash): " +
          'Tectia with <known-hosts filename-format="plain"/> saves keys as ' +
          "key_<port>_<host>.pub, which warren reads",
      );
    }
    for (const u of dir.unreadable) {
      out.push(`${config.file}: host key file ${u.file} cannot be read: ${u.why}`);
    }
  }
  return out;
}
