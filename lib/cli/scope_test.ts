import assert from "node:assert/strict";
import { dropPermission, scopePermissions } from "./scope.ts";

const state = (name: "run" | "write" | "env" | "ffi") => Deno.permissions.querySync({ name }).state;

// Each test gets its own permissions (the runner restores the process's
// afterwards), so what it revokes stays inside it.
const ALL = { run: true, write: true, env: true, ffi: true, read: true } as const;

Deno.test({
  name: "scopePermissions() revokes what has no reason and keeps the rest",
  permissions: ALL,
  fn() {
    const report = scopePermissions("test", { write: ["PidFile /x"], env: [] });
    assert.deepEqual(report.kept, [{ name: "write", why: ["PidFile /x"] }]);
    assert.deepEqual(report.dropped.map((d) => d.name).sort(), ["env", "ffi", "run"]);
    assert.equal(state("write"), "granted");
    for (const name of ["run", "env", "ffi"] as const) assert.notEqual(state(name), "granted");
    assert.throws(() => new Deno.Command("true").spawn(), Deno.errors.NotCapable);
    assert.throws(() => Deno.env.get("HOME"), Deno.errors.NotCapable);
  },
});

Deno.test({
  name: "dropPermission() revokes once; a later stage lists it as dropped with its reason",
  permissions: ALL,
  fn() {
    assert.equal(dropPermission("ffi", "libcrypto is loaded"), true);
    assert.equal(dropPermission("ffi", "again"), false);
    const report = scopePermissions("later", { run: ["x"], write: ["y"], env: ["z"] });
    assert.deepEqual(report.kept.map((k) => k.name), ["run", "write", "env"]);
    assert.deepEqual(report.dropped, [{ name: "ffi", why: "libcrypto is loaded" }]);
  },
});
