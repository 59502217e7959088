import assert from "node:assert/strict";
import { nextReadSize } from "./io.ts";

Deno.test("nextReadSize(): doubles while reads fill the buffer, up to max; small reads go back to min", () => {
  const [min, max] = [4096, 262144];
  assert.equal(nextReadSize(4096, 4096, min, max), 8192);
  assert.equal(nextReadSize(131072, 131072, min, max), 262144);
  assert.equal(nextReadSize(262144, 262144, min, max), 262144, "never above max");
  assert.equal(nextReadSize(5000, 65536, min, max), 65536, "a partial read keeps the size");
  assert.equal(nextReadSize(100, 65536, min, max), 4096, "a small read goes back to min");
  assert.equal(nextReadSize(100, 4096, min, max), 4096);
});
