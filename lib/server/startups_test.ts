import assert from "node:assert/strict";
import { DEFAULT_STARTUPS, formatStartups, parseStartups, refuseStartup } from "./startups.ts";

Deno.test("parseStartups() takes N or start:rate:full, as sshd's MaxStartups", () => {
  assert.deepEqual(parseStartups("10:30:100"), DEFAULT_STARTUPS);
  assert.deepEqual(parseStartups("5"), { start: 5, rate: 100, full: 5 });
  assert.equal(formatStartups(parseStartups("5")), "5");
  assert.equal(formatStartups(DEFAULT_STARTUPS), "10:30:100");
  for (
    const [bad, why] of [
      ["", /expected N or start:rate:full/],
      ["10:30", /expected N or start:rate:full/],
      ["a", /expected/],
      ["-1", /expected/],
      ["0", /start must be at least 1/],
      ["10:0:100", /rate must be/],
      ["10:101:100", /rate must be/],
      ["10:30:5", /full must be at least start/],
    ] as const
  ) {
    assert.throws(() => parseStartups(bad), why, bad);
  }
});

Deno.test("refuseStartup(): none below start, all at full, linear odds between", () => {
  const s = DEFAULT_STARTUPS;
  assert.equal(refuseStartup(s, 9, 0), false);
  assert.equal(refuseStartup(s, 100, 0.999), true);
  assert.equal(refuseStartup(s, 150, 0.999), true);
  // At start, 30% are refused: random below 0.30 refuses.
  assert.equal(refuseStartup(s, 10, 0.29), true);
  assert.equal(refuseStartup(s, 10, 0.31), false);
  // Half way from 10 to 100 (55 waiting): 30 + 70 / 2 = 65%.
  assert.equal(refuseStartup(s, 55, 0.64), true);
  assert.equal(refuseStartup(s, 55, 0.66), false);
  // A hard cap refuses everything at N and nothing below.
  const cap = parseStartups("3");
  assert.equal(refuseStartup(cap, 2, 0.999), false);
  assert.equal(refuseStartup(cap, 3, 0.999), true);
});
