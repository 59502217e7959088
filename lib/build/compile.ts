/**
 * `deno task compile [--target TRIPLE]... [--out DIR] [--commit ID]`: the
 * release binaries, one `deno compile` per target of `build.json`, each with
 * exactly the permission list of `build.json` and its `include` files, and a
 * `SHA256SUMS` beside them.
 *
 * The commit a binary was built from is stamped into it without touching the
 * work tree: the files git knows (tracked, and untracked ones not ignored)
 * are copied to a temporary directory, `lib/build/stamp.json` there gets the
 * commit (`git rev-parse HEAD`, with `-dirty` when tracked files differ from
 * it, or `--commit`), and `deno compile` runs in that copy. Source runs read
 * the committed stamp, whose commit is null: `warren -V` says "source".
 *
 * `deno compile` downloads Deno's runtime for each target from Deno's own
 * download host, so this runs where that host is reachable (the release
 * workflow); everything before that step is tested here (compile_test.ts).
 */
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import build from "./build.json" with { type: "json" };
import { RUN_FLAGS } from "../permissions.ts";

export const ROOT = resolve(fileURLToPath(new URL("../../", import.meta.url)));
export const TARGETS: readonly string[] = build.targets.map((t) => t.target);
export const INCLUDES: readonly string[] = build.include;

/** The binary's file name for a target. */
export function binaryName(target: string): string {
  return `warren-${target}${target.includes("windows") ? ".exe" : ""}`;
}

/** The arguments of `deno` that build one target into `output`. */
export function compileArgs(target: string, output: string): string[] {
  return [
    "compile",
    "--no-prompt",
    ...RUN_FLAGS,
    "--exclude-unused-npm",
    ...INCLUDES.flatMap((path) => ["--include", path]),
    "--target",
    target,
    "--output",
    output,
    "main.ts",
  ];
}

async function git(root: string, args: string[]): Promise<string> {
  const out = await new Deno.Command("git", { args, cwd: root, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`git ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** The commit the work tree is at, `-dirty` when a tracked file differs from it. */
export async function sourceCommit(root: string = ROOT): Promise<string> {
  const head = (await git(root, ["rev-parse", "HEAD"])).trim();
  const changed = (await git(root, ["status", "--porcelain", "--untracked-files=no"])).trim();
  return changed === "" ? head : `${head}-dirty`;
}

/** Copy what git knows of `root` into a new temporary directory and stamp `commit` there. */
export async function stage(commit: string, root: string = ROOT): Promise<string> {
  const listed = await git(root, ["ls-files", "-z", "--cached", "--others", "--exclude-standard"]);
  const dir = await Deno.makeTempDir({ prefix: "warren-build-" });
  for (const path of new Set(listed.split("\0").filter((p) => p !== ""))) {
    const from = join(root, path);
    const to = join(dir, path);
    try {
      if (!(await Deno.lstat(from)).isFile) continue;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue; // deleted in the work tree
      throw err;
    }
    await Deno.mkdir(dirname(to), { recursive: true });
    await Deno.copyFile(from, to);
  }
  await Deno.writeTextFile(join(dir, "lib/build/stamp.json"), JSON.stringify({ commit }) + "\n");
  return dir;
}

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** `sha256sum` format: "HASH  NAME" per file, sorted by name. */
export async function checksums(dir: string, names: string[]): Promise<string> {
  const lines = [];
  for (const name of [...names].sort()) lines.push(`${await sha256(join(dir, name))}  ${name}`);
  return lines.join("\n") + "\n";
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      target: { type: "string", multiple: true },
      out: { type: "string" },
      commit: { type: "string" },
    },
    strict: true,
  });
  const targets = values.target ?? [...TARGETS];
  const unknown = targets.filter((t) => !TARGETS.includes(t));
  if (unknown.length > 0) {
    console.error(
      `compile: unknown target ${unknown.join(", ")} (build.json: ${TARGETS.join(", ")})`,
    );
    return 2;
  }
  const out = resolve(values.out ?? join(ROOT, "dist"));
  const commit = values.commit ?? await sourceCommit();
  await Deno.mkdir(out, { recursive: true });
  const dir = await stage(commit);
  try {
    const names = [];
    for (const target of targets) {
      const name = binaryName(target);
      const cmd = compileArgs(target, join(out, name));
      console.error(`compile: ${target} (commit ${commit}) -> ${relative(ROOT, join(out, name))}`);
      const status = await new Deno.Command(Deno.execPath(), { args: cmd, cwd: dir }).spawn()
        .status;
      if (!status.success) {
        console.error(`compile: deno compile for ${target} failed (exit ${status.code})`);
        return 1;
      }
      names.push(name);
    }
    await Deno.writeTextFile(join(out, "SHA256SUMS"), await checksums(out, names));
    console.error(`compile: ${names.length} binaries and SHA256SUMS in ${out}`);
    return 0;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
