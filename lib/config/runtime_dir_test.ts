import assert from "node:assert/strict";
import { runtimeDir } from "./runtime_dir.ts";

const linux = { os: "linux" as const, uid: 1000 };
const windows = { os: "windows" as const, uid: null };
const envOf = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("runtimeDir(): $XDG_RUNTIME_DIR/warren, else /tmp/warren-$UID; %LOCALAPPDATA% on Windows", () => {
  assert.equal(
    runtimeDir(envOf({ XDG_RUNTIME_DIR: "/run/user/1000" }), linux),
    "/run/user/1000/warren",
  );
  assert.equal(runtimeDir(envOf({}), linux), "/tmp/warren-1000");
  assert.equal(
    runtimeDir(envOf({ LOCALAPPDATA: "C:\\Users\\ann\\AppData\\Local" }), windows),
    "C:\\Users\\ann\\AppData\\Local\\warren",
  );
});
