import assert from "node:assert/strict";
import { connectionClosed, memoryTrimActive, startMemoryTrim, unbindMemoryTrim } from "./trim.ts";

Deno.test("startMemoryTrim() finds glibc's malloc_trim on Linux, and stop() leaves nothing behind", () => {
  connectionClosed(); // not started: nothing happens
  const stop = startMemoryTrim();
  try {
    const glibc = Deno.build.os === "linux" &&
      (() => {
        try {
          Deno.statSync("/lib/x86_64-linux-gnu/libc.so.6");
          return true;
        } catch {
          return Deno.build.arch !== "x86_64";
        }
      })();
    if (glibc) assert.ok(memoryTrimActive(), "malloc_trim should be found on glibc Linux");
    for (let i = 0; i < 150; i++) connectionClosed(); // arms the timer stop() must clear
  } finally {
    stop();
    unbindMemoryTrim();
  }
  assert.ok(!memoryTrimActive());
});
