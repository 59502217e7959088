/**
 * The build script up to `deno compile` itself, which needs Deno's download
 * host: the arguments follow build.json, the staged copy carries the commit,
 * and SHA256SUMS is in sha256sum's format.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import build from "./build.json" with { type: "json" };
import {
  binaryName,
  checksums,
  compileArgs,
  ROOT,
  sourceCommit,
  stage,
  TARGETS,
} from "./compile.ts";
import { PERMISSION_FLAGS, V8_FLAGS } from "../permissions.ts";
import { VERSION } from "../version.ts";

/** `warren -V` run from source in `dir`, with the binary's permissions. */
async function warrenV(dir: string): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...PERMISSION_FLAGS, join(dir, "main.ts"), "-V"],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

Deno.test("compile: one deno compile per target, with build.json's permissions and includes", () => {
  assert.deepEqual(TARGETS, build.targets.map((t) => t.target));
  for (const target of TARGETS) {
    const args = compileArgs(target, `/out/${binaryName(target)}`);
    assert.equal(args[0], "compile");
    const flags = args.filter((a) => a.startsWith("--allow-") || a === "-A" || a === "--allow-all");
    assert.deepEqual(flags, [...PERMISSION_FLAGS]);
    assert.deepEqual(args.filter((a) => a.startsWith("--v8-flags")), [`--v8-flags=${V8_FLAGS}`]);
    assert.deepEqual(args.slice(-5), [
      "--target",
      target,
      "--output",
      `/out/${binaryName(target)}`,
      "main.ts",
    ]);
    for (const path of build.include) assert.ok(args.includes(path), path);
  }
  assert.equal(binaryName("x86_64-pc-windows-msvc"), "warren-x86_64-pc-windows-msvc.exe");
  assert.equal(binaryName("aarch64-apple-darwin"), "warren-aarch64-apple-darwin");
});

Deno.test("compile: every file build.json includes exists", async () => {
  for (const path of build.include) await Deno.stat(join(ROOT, path));
});

Deno.test("compile: the staged copy carries the commit; the work tree's stamp stays null", async () => {
  const commit = await sourceCommit();
  assert.match(commit, /^[0-9a-f]{40}(-dirty)?$/);
  const dir = await stage(commit);
  try {
    const stamp = JSON.parse(await Deno.readTextFile(join(dir, "lib/build/stamp.json")));
    assert.deepEqual(stamp, { commit });
    const own = JSON.parse(await Deno.readTextFile(join(ROOT, "lib/build/stamp.json")));
    assert.deepEqual(own, { commit: null });
    for (const file of ["main.ts", "deno.json", "deno.lock", "lib/permissions.ts"]) {
      assert.equal(
        await Deno.readTextFile(join(dir, file)),
        await Deno.readTextFile(join(ROOT, file)),
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("warren -V: version, Deno, target, and the stamped commit, or 'source' from the work tree", async () => {
  const commit = await sourceCommit();
  const dir = await stage(commit);
  try {
    const head = `warren ${VERSION.replaceAll(".", "\\.")} \\(deno ${
      Deno.version.deno.replaceAll(".", "\\.")
    }, ${Deno.build.target}, `;
    assert.match(await warrenV(dir), new RegExp(`^${head}commit ${commit}\\)\n$`));
    assert.match(await warrenV(ROOT), new RegExp(`^${head}source\\)\n$`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("compile: SHA256SUMS lines are 'sha256  name', sorted", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "b"), "abc");
    await Deno.writeTextFile(join(dir, "a"), "");
    assert.equal(
      await checksums(dir, ["b", "a"]),
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  a\n" +
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  b\n",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
