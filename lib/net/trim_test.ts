import assert from "node:assert/strict";
import {
  connectionClosed,
  memoryTrimActive,
  startMemoryTrim,
  trafficMoved,
  trimScheduled,
  unbindMemoryTrim,
} from "./trim.ts";

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

Deno.test("a burst is 100 closes, or 100 MiB moved by fewer connections", () => {
  let stop = startMemoryTrim();
  try {
    if (!memoryTrimActive()) return; // no glibc here: nothing to schedule
    for (let i = 0; i < 99; i++) connectionClosed();
    assert.ok(!trimScheduled(), "99 closes are not a burst");
    trafficMoved(512 * 1024); // less than a MiB: not counted
    assert.ok(!trimScheduled());
    trafficMoved(1024 * 1024);
    assert.ok(trimScheduled(), "the 100th");
    stop();
    stop = startMemoryTrim();
    trafficMoved(64 * 1024 * 1024);
    assert.ok(!trimScheduled(), "64 MiB is not a burst");
    trafficMoved(40 * 1024 * 1024);
    assert.ok(trimScheduled(), "two transfers of 104 MiB are");
  } finally {
    stop();
    unbindMemoryTrim();
  }
});
