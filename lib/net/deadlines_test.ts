import assert from "node:assert/strict";
import { Deadlines } from "./deadlines.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait (up to 5 s) until `done()`; a loaded machine may run timers late, never early. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 250 && !done(); i++) await sleep(20);
}

Deno.test("Deadlines: each expires once its own length has passed, in order; a cancelled one never", async () => {
  const d = new Deadlines(300);
  const expired: string[] = [];
  try {
    const a = d.add(() => expired.push("a"));
    await sleep(150);
    d.add(() => expired.push("b"));
    d.add(() => expired.push("c"));
    a();
    // a's deadline passes with only b and c set, neither due yet.
    await sleep(200);
    assert.deepEqual(expired, []);
    await until(() => expired.length === 2);
    assert.deepEqual(expired, ["b", "c"]);
  } finally {
    d.clear();
  }
});

Deno.test("Deadlines: one added by an expiring callback gets its full length; clear() stops all", async () => {
  const d = new Deadlines(200);
  const expired: string[] = [];
  try {
    d.add(() => {
      expired.push("first");
      d.add(() => expired.push("second"));
    });
    await until(() => expired.length === 1);
    const at = performance.now();
    await until(() => expired.length === 2);
    assert.deepEqual(expired, ["first", "second"]);
    assert.ok(performance.now() - at >= 150, "not expired at once");
    d.add(() => expired.push("never"));
    d.clear();
    await sleep(300);
    assert.deepEqual(expired, ["first", "second"]);
  } finally {
    d.clear();
  }
});
