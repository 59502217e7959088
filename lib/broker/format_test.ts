import assert from "node:assert/strict";
import { bytes, duration, table } from "./format.ts";

Deno.test("table() pads columns to the widest cell and leaves no trailing blanks", () => {
  assert.equal(
    table(["ID", "PROFILE", "STATE"], [["1", "bastion", "connected"], ["12", "db", ""]]),
    "ID  PROFILE  STATE\n1   bastion  connected\n12  db",
  );
  assert.equal(table(["ID", "HOST"], []), "ID  HOST");
});

Deno.test("bytes() uses binary units with one decimal below 10", () => {
  assert.equal(bytes(0), "0 B");
  assert.equal(bytes(1023), "1023 B");
  assert.equal(bytes(1536), "1.5 KiB");
  assert.equal(bytes(64 * 1024 * 1024), "64 MiB");
  assert.equal(bytes(3 * 1024 ** 4), "3.0 TiB");
});

Deno.test("duration() shows the two or three largest units", () => {
  assert.equal(duration(9), "9s");
  assert.equal(duration(65), "1m 05s");
  assert.equal(duration(3725), "1h 02m 05s");
  assert.equal(duration(2 * 86400 + 3 * 3600 + 4 * 60), "2d 03h 04m");
});
