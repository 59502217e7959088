import assert from "node:assert/strict";
import { selfCommand } from "./background.ts";
import { RUN_FLAGS } from "../permissions.ts";

Deno.test("selfCommand(): from source, deno runs the main module with the binary's flags", () => {
  assert.equal(Deno.build.standalone, false);
  assert.deepEqual(selfCommand(["-L", "1:h:2", "host"]), [
    Deno.execPath(),
    ["run", "--no-prompt", ...RUN_FLAGS, Deno.mainModule, "-L", "1:h:2", "host"],
  ]);
});

Deno.test("selfCommand(): a compiled binary runs itself with the same arguments", () => {
  assert.deepEqual(selfCommand(["-f", "host"], true), [Deno.execPath(), ["-f", "host"]]);
});
