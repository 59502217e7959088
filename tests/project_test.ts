/**
 * The project's own wiring: `deno task start`, the compiled binaries and the
 * re-executed background process run with one list of permissions, and the
 * version is the same everywhere.
 */
import assert from "node:assert/strict";
import { PERMISSION_FLAGS } from "../lib/permissions.ts";
import { VERSION } from "../lib/version.ts";

const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));

Deno.test("deno task start uses exactly the permission list of lib/permissions.ts", () => {
  assert.equal(
    config.tasks.start,
    `WARREN_TASK_CWD="$INIT_CWD" deno run --no-prompt ${PERMISSION_FLAGS.join(" ")} main.ts`,
  );
});

Deno.test("deno task compile builds five targets, each with the same permissions", () => {
  const builds = (config.tasks.compile as string).split(" && ");
  const targets = builds.map((b) => /--target (\S+)/.exec(b)?.[1]);
  assert.deepEqual(targets.sort(), [
    "aarch64-apple-darwin",
    "aarch64-unknown-linux-gnu",
    "x86_64-apple-darwin",
    "x86_64-pc-windows-msvc",
    "x86_64-unknown-linux-gnu",
  ]);
  for (const b of builds) {
    assert.ok(b.includes(` ${PERMISSION_FLAGS.join(" ")} `), b);
    assert.ok(!/--allow-all|\s-A\s/.test(b), b);
  }
});

Deno.test("the version in deno.json is the one warren prints", () => {
  assert.equal(config.version, VERSION);
});

Deno.test("every import comes from npm and is pinned to an exact version", () => {
  for (const [name, spec] of Object.entries(config.imports as Record<string, string>)) {
    assert.match(spec, /^npm:(@[^/@]+\/)?[^@]+@\d+\.\d+\.\d+$/, `${name}: ${spec}`);
  }
});
