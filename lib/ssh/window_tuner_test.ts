import assert from "node:assert/strict";
import { type TunedChannel, WindowTuner } from "./window_tuner.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const options = { initial: 2 * MiB, max: 16 * MiB, budget: 20 * MiB, packet: 32 * KiB };

/** One round trip: a ping out, `bytes` received, its reply `rtt` ms later (minRtt: the link's). */
function roundTrip(
  t: WindowTuner,
  ch: TunedChannel,
  bytes: number,
  rtt?: number,
  minRtt?: number,
): void {
  t.probeSent(ch);
  ch.received += bytes;
  t.probeAnswered(ch, rtt, minRtt);
}

Deno.test("WindowTuner: adjusts once more than three packets are consumed, or below half", () => {
  const t = new WindowTuner(options);
  const ch = t.channel();
  assert.equal(t.adjust(ch, 2 * MiB), 0);
  assert.equal(t.adjust(ch, 2 * MiB - 96 * KiB), 0, "three packets: not yet");
  assert.equal(t.adjust(ch, 2 * MiB - 96 * KiB - 1), 96 * KiB + 1);
  // A small target: below half comes first.
  const small = new WindowTuner({ ...options, initial: 128 * KiB, max: 128 * KiB });
  const c2 = small.channel();
  assert.equal(small.adjust(c2, 64 * KiB), 0);
  assert.equal(small.adjust(c2, 64 * KiB - 1), 64 * KiB + 1);
});

Deno.test("WindowTuner: a window's worth in one round trip doubles the window, up to max", () => {
  const t = new WindowTuner(options);
  const ch = t.channel();
  for (const expected of [4 * MiB, 8 * MiB, 16 * MiB]) {
    assert.ok(t.wantsProbe(ch));
    t.probeSent(ch);
    assert.equal(t.wantsProbe(ch), false, "one probe at a time");
    ch.received += ch.target; // the sender used the whole window in one round trip
    t.probeAnswered(ch);
    assert.equal(ch.target, expected);
  }
  assert.equal(t.wantsProbe(ch), false, "at max");
  assert.equal(t.budgetLeft, 20 * MiB - 14 * MiB);
  // Once grown, the adjust tops up to the new target.
  assert.equal(t.adjust(ch, 2 * MiB), 14 * MiB);
});

Deno.test("WindowTuner: a ping sent just after growth is measured against the window before it", () => {
  const t = new WindowTuner(options);
  const ch = t.channel();
  roundTrip(t, ch, 2 * MiB);
  assert.equal(ch.target, 4 * MiB);
  // The next ping leaves with the grant; what arrives until its reply was
  // still sent under the 2 MiB window, which it filled: grow again.
  roundTrip(t, ch, 2 * MiB);
  assert.equal(ch.target, 8 * MiB, "doubles every round trip");
  // Growth is at most four times the sample: 1.5 MiB of 2 fills two thirds,
  // but 8 MiB doubled would be more than 4 x 1.5 MiB.
  const c2 = t.channel();
  roundTrip(t, c2, 2 * MiB);
  roundTrip(t, c2, 1.5 * MiB);
  assert.equal(c2.target, 6 * MiB);
  // 2 MiB under the 4 MiB before that growth: not window-limited, no growth;
  // the ping after it is measured against the whole 6 MiB.
  roundTrip(t, c2, 2 * MiB);
  assert.equal(c2.target, 6 * MiB);
  roundTrip(t, c2, 3 * MiB);
  assert.equal(c2.target, 6 * MiB, "3 MiB of 6: not window-limited");
});

Deno.test("WindowTuner: a ping that waited in a queue does not pass for a long link", () => {
  const t = new WindowTuner(options);
  // Loopback: the link's round trip is 0.2 ms, but the ping waited 3 ms
  // behind the 2 MiB this window let the server send.
  const lo = t.channel();
  roundTrip(t, lo, 2 * MiB, 3, 0.2);
  assert.equal(lo.target, 2 * MiB);
  // A 50 ms link whose ping came back in 52 ms: the window was the limit.
  const wan = t.channel();
  roundTrip(t, wan, 2 * MiB, 52, 50);
  assert.equal(wan.target, 4 * MiB);
});

Deno.test("WindowTuner: a sender that is not window-limited does not grow the window", () => {
  const t = new WindowTuner(options);
  const ch = t.channel();
  roundTrip(t, ch, Math.floor((2 * 2 * MiB) / 3) - 1);
  assert.equal(ch.target, 2 * MiB);
});

Deno.test("WindowTuner: growth comes out of one budget; backpressure and close give it back", () => {
  const t = new WindowTuner({ ...options, budget: 6 * MiB });
  const a = t.channel();
  const b = t.channel();
  const grow = (ch: TunedChannel) => roundTrip(t, ch, ch.target);
  grow(a); // 2 → 4 MiB
  grow(a); // 4 → 8 MiB
  grow(b); // only 0 MiB left in the budget: 6 MiB spent
  assert.deepEqual([a.target, b.target, t.budgetLeft], [8 * MiB, 2 * MiB, 0]);
  assert.equal(t.wantsProbe(b), false);
  t.backpressure(a);
  t.backpressure(a);
  assert.deepEqual([a.target, t.budgetLeft], [4 * MiB, 4 * MiB], "halved once per episode");
  assert.equal(t.adjust(a, 5 * MiB), 0, "what was granted stays granted, no more");
  t.backpressure(a);
  t.adjust(a, 2 * MiB);
  t.backpressure(a);
  assert.deepEqual([a.target, t.budgetLeft], [2 * MiB, 6 * MiB], "never below initial");
  grow(b);
  t.closed(b);
  assert.equal(t.budgetLeft, 6 * MiB);
});

Deno.test("WindowTuner: max equal to initial (WARREN_CHANNEL_WINDOW) never probes or grows", () => {
  const t = new WindowTuner({ ...options, initial: 8 * MiB, max: 8 * MiB, budget: 0 });
  const ch = t.channel();
  assert.equal(t.wantsProbe(ch), false);
  assert.equal(t.adjust(ch, 4 * MiB), 4 * MiB);
});

Deno.test("WindowTuner: the channels of one connection share its growth budget", () => {
  const t = new WindowTuner({ ...options, budget: 100 * MiB, perConnection: 16 * MiB });
  const conn = t.group();
  const grow = (ch: TunedChannel) => roundTrip(t, ch, ch.target);
  const a = t.channel(conn);
  for (let i = 0; i < 4; i++) grow(a); // 2 → 16 MiB: 14 of the 16 MiB
  assert.equal(a.target, 16 * MiB);
  const b = t.channel(conn);
  grow(b);
  assert.equal(b.target, 4 * MiB, "2 MiB of growth left for the second");
  assert.equal(t.wantsProbe(b), false);
  const other = t.channel(t.group());
  grow(other);
  assert.equal(other.target, 4 * MiB, "another connection has its own");
  t.closed(a);
  assert.ok(t.wantsProbe(b), "a closed channel gives its share back");
  grow(b);
  assert.equal(b.target, 8 * MiB);
});

Deno.test("WindowTuner: on a long link a window-limited channel jumps to its share of the connection's growth", () => {
  const t = new WindowTuner({
    ...options,
    budget: 256 * MiB,
    perConnection: 16 * MiB,
    longLinkMs: 10,
  });
  // A connection's only channel: straight to max, not 4, 8, 16 MiB.
  const alone = t.channel(t.group());
  roundTrip(t, alone, 2 * MiB, 50, 50);
  assert.equal(alone.target, 16 * MiB);
  // Four channels of one connection: each jumps to 2 + 16/4 MiB.
  const group = t.group();
  const four = [0, 1, 2, 3].map(() => t.channel(group));
  for (const ch of four) roundTrip(t, ch, 2 * MiB, 50, 50);
  assert.deepEqual(four.map((ch) => ch.target), [6 * MiB, 6 * MiB, 6 * MiB, 6 * MiB]);
  // From its share a channel doubles as before (what the budget has left).
  roundTrip(t, four[0], 6 * MiB, 50, 50);
  assert.equal(four[0].target, 6 * MiB, "the connection's budget is spent");
  t.closed(four[1]);
  roundTrip(t, four[0], 6 * MiB, 50, 50);
  assert.equal(four[0].target, 10 * MiB, "a closed channel's share comes back");
  // A channel that does not fill its window does not jump.
  const idle = t.channel(t.group());
  roundTrip(t, idle, 512 * KiB, 50, 50);
  assert.equal(idle.target, 2 * MiB);
  // A short link (loopback) doubles step by step.
  const near = t.channel(t.group());
  roundTrip(t, near, 2 * MiB, 0.1, 0.1);
  assert.equal(near.target, 4 * MiB);
});

Deno.test("WindowTuner: a channel of small messages is probed once per quarter window, not per packet", () => {
  const t = new WindowTuner(options);
  const ch = t.channel();
  roundTrip(t, ch, 64); // a query's answer: no growth
  assert.equal(ch.target, 2 * MiB);
  ch.received += 64;
  assert.equal(t.wantsProbe(ch), false, "not again after 64 bytes");
  ch.received = 512 * KiB - 1;
  assert.equal(t.wantsProbe(ch), false, "not before a quarter window since the last probe");
  ch.received = 512 * KiB;
  assert.ok(t.wantsProbe(ch));
});

Deno.test("WindowTuner: a window that carries ampleRate over the link's round trip is not probed", () => {
  const t = new WindowTuner({ ...options, ampleRate: 2 * 1024 * MiB });
  const ch = t.channel();
  ch.received = 512 * KiB;
  assert.equal(t.wantsProbe(ch, 0.1), false, "loopback: 2 MiB per 0.1 ms is 20 GiB/s");
  assert.equal(t.wantsProbe(ch, 0.9), false, "2 MiB per 0.9 ms is still over 2 GiB/s");
  assert.ok(t.wantsProbe(ch, 1.5), "2 MiB per 1.5 ms is 1.3 GiB/s: the window may be the limit");
  assert.ok(t.wantsProbe(ch), "round trip not known yet");
});
