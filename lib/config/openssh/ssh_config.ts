/**
 * OpenSSH's client configuration (`~/.ssh/config`, or `-F FILE`), read the
 * way ssh reads it, for host targets that are not profiles:
 *
 * - `Keyword value`, `Keyword=value` or `Keyword = value`; keywords are
 *   case-insensitive; `#` starts a comment line; values may be quoted.
 * - `Host PATTERN...`: the lines after it apply when the host, as typed,
 *   matches a pattern (`*` and `?` wildcards) and no negated one (`!PAT`).
 * - `Include PATH...`: each a glob, relative to ~/.ssh unless absolute (or
 *   `~/...`); files are read in sorted order, missing ones skipped. An
 *   Include inside a Host block applies under that block's condition.
 * - `Match` blocks are not interpreted: their lines are skipped up to the
 *   next Host or Match, with one warning, never applied wrongly.
 * - The first value of a keyword wins (the caller applies entries in order
 *   with that rule); IdentityFile and the forwards add up.
 *
 * `loadSshConfig()` reads the file and its includes once; `lookup()` is pure:
 * the entries that apply to one host, in order, with the warnings to show.
 */
import { ConfigError, fileProblem } from "../../errors.ts";

export interface SshConfigEntry {
  /** Lowercase keyword. */
  keyword: string;
  /** The value as written after the keyword, one pair of outer quotes removed. */
  value: string;
  file: string;
  line: number;
}

interface Conditioned extends SshConfigEntry {
  /** Each Host pattern list on the way here (the file's, then an Include's). */
  conditions: string[][];
  /** Inside a Match block: never applies. */
  inMatch: boolean;
}

export interface SshConfig {
  path: string;
  lookup(host: string): { entries: SshConfigEntry[]; warnings: string[] };
}

const MAX_DEPTH = 16;

/** Whether `host` matches a glob with `*` and `?` (case-insensitive). */
export function globMatch(pattern: string, host: string): boolean {
  const re = new RegExp(
    "^" + pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") +
      "$",
    "i",
  );
  return re.test(host);
}

/** A Host line's patterns against a host: some positive match, no negated one. */
export function hostMatches(patterns: string[], host: string): boolean {
  let matched = false;
  for (const p of patterns) {
    if (p.startsWith("!")) {
      if (globMatch(p.slice(1), host)) return false;
    } else if (globMatch(p, host)) matched = true;
  }
  return matched;
}

/** Split a value into words, honouring double quotes. */
export function splitWords(value: string): string[] {
  const words: string[] = [];
  for (const m of value.matchAll(/"([^"]*)"|(\S+)/g)) words.push(m[1] ?? m[2]);
  return words;
}

class Reader {
  entries: Conditioned[] = [];
  constructor(private home: string) {}

  async read(path: string, conditions: string[][], depth: number, required: boolean) {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (err) {
      if (!required) return;
      throw new ConfigError(`Cannot read ${path}: ${fileProblem(err)}`);
    }
    let current = conditions;
    let inMatch = false;
    for (const [i, raw] of text.split(/\r?\n/).entries()) {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) continue;
      const m = /^([A-Za-z0-9]+)(?:\s*=\s*|\s+)(.*)$/.exec(line);
      const where = `${path}:${i + 1}`;
      if (!m) {
        if (/^[A-Za-z0-9]+$/.test(line)) {
          throw new ConfigError(`${where}: '${line}' has no value`);
        }
        throw new ConfigError(`${where}: cannot read '${line}' (expected Keyword value)`);
      }
      const keyword = m[1].toLowerCase();
      const value = m[2].trim().replace(/^"(.*)"$/, "$1");
      if (keyword === "host") {
        const patterns = splitWords(m[2]);
        if (patterns.length === 0) throw new ConfigError(`${where}: Host needs a pattern`);
        current = [...conditions, patterns];
        inMatch = false;
        continue;
      }
      if (keyword === "match") {
        // A Match block ends the Host block; it might apply to any host here.
        inMatch = true;
        current = conditions;
        this.entries.push({ keyword, value, file: path, line: i + 1, conditions, inMatch });
        continue;
      }
      if (keyword === "include") {
        if (inMatch) continue;
        if (depth >= MAX_DEPTH) throw new ConfigError(`${where}: Include nested too deeply`);
        for (const word of splitWords(m[2])) {
          for (const file of await this.glob(this.resolve(word))) {
            await this.read(file, current, depth + 1, false);
          }
        }
        continue;
      }
      this.entries.push({ keyword, value, file: path, line: i + 1, conditions: current, inMatch });
    }
  }

  resolve(path: string): string {
    if (path.startsWith("/")) return path;
    if (path === "~" || path.startsWith("~/")) return this.home + path.slice(1);
    return `${this.home}/.ssh/${path}`;
  }

  /** The files a glob names, sorted; `*`, `?` and `[...]` per path segment. */
  async glob(path: string): Promise<string[]> {
    const segments = path.split("/").filter((s) => s !== "");
    let found = ["/"];
    for (const [i, seg] of segments.entries()) {
      const last = i === segments.length - 1;
      const next: string[] = [];
      for (const dir of found) {
        const base = dir === "/" ? "" : dir;
        if (!/[*?[]/.test(seg)) {
          next.push(`${base}/${seg}`);
          continue;
        }
        const re = new RegExp(
          "^" +
            seg.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]") +
            "$",
        );
        try {
          for await (const e of Deno.readDir(dir)) {
            if (e.name.startsWith(".") && !seg.startsWith(".")) continue;
            if (re.test(e.name) && (last || e.isDirectory || e.isSymlink)) {
              next.push(`${base}/${e.name}`);
            }
          }
        } catch { /* not a directory, or unreadable: nothing there */ }
      }
      found = next.sort();
    }
    return found;
  }
}

/** Read `path` and its includes. A missing file is an error only when `required` (-F). */
export async function loadSshConfig(
  path: string,
  home: string,
  required: boolean,
): Promise<SshConfig> {
  const reader = new Reader(home);
  await reader.read(path, [], 0, required);
  const entries = reader.entries;
  return {
    path,
    lookup(host: string) {
      const applies = (e: Conditioned) => e.conditions.every((c) => hostMatches(c, host));
      const matches = entries.filter((e) => e.keyword === "match" && applies(e));
      const warnings = matches.length === 0 ? [] : [
        `${matches[0].file}:${matches[0].line}: Match blocks are not supported: ` +
        `skipped${matches.length > 1 ? ` (and ${matches.length - 1} more)` : ""}`,
      ];
      return {
        entries: entries
          .filter((e) => !e.inMatch && applies(e))
          .map(({ keyword, value, file, line }) => ({ keyword, value, file, line })),
        warnings,
      };
    },
  };
}
