import assert from "node:assert/strict";
import { Backoff, backoffDelay } from "./backoff.ts";

Deno.test("backoffDelay() is 0 for the first failure, then doubles up to the cap", () => {
  const top = () => 0.999999;
  assert.equal(backoffDelay(0, 1000, 60_000, top), 0);
  assert.equal(backoffDelay(1, 1000, 60_000, top), 0);
  assert.equal(backoffDelay(2, 1000, 60_000, top), 1000);
  assert.equal(backoffDelay(3, 1000, 60_000, top), 2000);
  assert.equal(backoffDelay(4, 1000, 60_000, top), 4000);
  assert.equal(backoffDelay(8, 1000, 60_000, top), 60_000);
  assert.equal(backoffDelay(500, 1000, 60_000, top), 60_000);
});

Deno.test("backoffDelay() jitters between half and all of the ceiling", () => {
  assert.equal(backoffDelay(3, 1000, 60_000, () => 0), 1000);
  assert.equal(backoffDelay(3, 1000, 60_000, () => 0.5), 1500);
  for (let i = 0; i < 200; i++) {
    const d = backoffDelay(5, 1000, 60_000, Math.random);
    assert.ok(d >= 4000 && d <= 8000, `${d}`);
  }
});

Deno.test("Backoff with a fake clock: waits after repeated failures, resets on success", () => {
  let now = 10_000;
  const b = new Backoff({ baseMs: 1000, capMs: 8000, now: () => now, random: () => 0 });
  assert.equal(b.remaining(), 0);
  assert.equal(b.failed("refused"), 0);
  assert.equal(b.remaining(), 0, "one failure: the next client tries at once");
  assert.equal(b.failed("refused"), 500);
  assert.equal(b.remaining(), 500);
  now += 200;
  assert.equal(b.remaining(), 300);
  now += 300;
  assert.equal(b.remaining(), 0);
  assert.equal(b.failed("refused"), 1000);
  assert.equal(b.failed("refused"), 2000);
  assert.equal(b.failed("timed out"), 4000);
  assert.equal(b.failed("timed out"), 4000, "capped at cap/2..cap");
  assert.equal(b.failures, 6);
  assert.equal(b.lastError, "timed out");
  b.succeeded();
  assert.equal(b.failures, 0);
  assert.equal(b.remaining(), 0);
  assert.equal(b.lastError, "");
});
