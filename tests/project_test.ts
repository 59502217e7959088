/**
 * The project's own wiring: `deno task start`, `deno task install`, the
 * compiled binaries and the re-executed background process run with one list
 * of permissions (lib/build/build.json), and the version is the same
 * everywhere.
 */
import assert from "node:assert/strict";
import { PERMISSION_FLAGS, RUN_FLAGS } from "../lib/permissions.ts";
import { VERSION } from "../lib/version.ts";
import build from "../lib/build/build.json" with { type: "json" };

const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));

Deno.test("deno task start uses exactly the V8 flags and permission list of lib/permissions.ts", () => {
  assert.equal(
    config.tasks.start,
    `WARREN_TASK_CWD="$INIT_CWD" deno run --no-prompt ${RUN_FLAGS.join(" ")} main.ts`,
  );
});

Deno.test("deno task install installs warren with exactly the permission list", () => {
  assert.equal(
    config.tasks.install,
    `deno install --global --force --name warren --config deno.json --no-prompt ${
      RUN_FLAGS.join(" ")
    } main.ts`,
  );
});

Deno.test("deno task compile is the build script, which takes its flags from build.json", () => {
  // The flags of each target's `deno compile` are checked in lib/build/compile_test.ts.
  assert.equal(
    config.tasks.compile,
    "deno run --allow-read --allow-write --allow-run lib/build/compile.ts",
  );
  assert.ok(!/--allow-(net|env|ffi|sys)|--allow-all|\s-A\s/.test(config.tasks.compile));
});

Deno.test("build.json names the five release targets, each once, and no --allow-all", () => {
  assert.deepEqual(build.targets.map((t) => t.target).sort(), [
    "aarch64-apple-darwin",
    "aarch64-unknown-linux-gnu",
    "x86_64-apple-darwin",
    "x86_64-pc-windows-msvc",
    "x86_64-unknown-linux-gnu",
  ]);
  assert.deepEqual(PERMISSION_FLAGS, build.permissions);
  for (const flag of PERMISSION_FLAGS) assert.match(flag, /^--allow-[a-z]+(=\S+)?$/);
  assert.ok(!PERMISSION_FLAGS.includes("--allow-all"));
});

Deno.test("the version in deno.json is the one warren prints", () => {
  assert.equal(config.version, VERSION);
});

Deno.test("every import comes from npm and is pinned to an exact version", () => {
  for (const [name, spec] of Object.entries(config.imports as Record<string, string>)) {
    assert.match(spec, /^npm:(@[^/@]+\/)?[^@]+@\d+\.\d+\.\d+$/, `${name}: ${spec}`);
  }
});
