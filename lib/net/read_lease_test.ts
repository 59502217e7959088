import assert from "node:assert/strict";
import {
  leaseCounts,
  lend,
  opened,
  payloadHandled,
  payloadOpening,
  release,
  reusable,
} from "./read_lease.ts";

/** One parse of `buf`: payloads at the given offsets, each released or not. */
function parse(buf: Uint8Array, payloads: { at: number; released: boolean }[], from = 0): boolean {
  lend(buf.buffer);
  opened(buf, from);
  for (const p of payloads) {
    const view = buf.subarray(p.at, p.at + 8);
    if (payloadOpening(view)) {
      if (p.released) release(view.subarray(2));
      payloadHandled();
    }
  }
  return reusable();
}

Deno.test("read lease: reusable when every payload was released", () => {
  const buf = new Uint8Array(64);
  assert.equal(parse(buf, [{ at: 0, released: true }, { at: 16, released: true }]), true);
  assert.equal(parse(buf, []), true, "only a partial packet (copied by the opener)");
});

Deno.test("read lease: one payload not released keeps the buffer", () => {
  const buf = new Uint8Array(64);
  assert.equal(parse(buf, [{ at: 0, released: true }, { at: 16, released: false }]), false);
  assert.equal(parse(buf, [{ at: 0, released: false }, { at: 16, released: true }]), false);
});

Deno.test("read lease: bytes parsed by anything but the opener keep the buffer", () => {
  const buf = new Uint8Array(64);
  assert.equal(parse(buf, [{ at: 16, released: true }], 8), false, "the opener began mid-buffer");
  lend(buf.buffer);
  assert.equal(reusable(), false, "the opener never saw it");
});

Deno.test("read lease: a release of another buffer, or outside a payload, counts for nothing", () => {
  const buf = new Uint8Array(64);
  const other = new Uint8Array(64);
  lend(buf.buffer);
  opened(buf, 0);
  release(buf.subarray(0, 4)); // before any payload
  assert.equal(payloadOpening(buf.subarray(0, 8)), true);
  release(other.subarray(0, 4));
  payloadHandled();
  assert.equal(reusable(), false);
});

Deno.test("read lease: a handler that throws leaves the buffer kept", () => {
  const buf = new Uint8Array(64);
  lend(buf.buffer);
  opened(buf, 0);
  assert.equal(payloadOpening(buf.subarray(0, 8)), true);
  // The handler threw: payloadHandled never ran.
  assert.equal(reusable(), false);
});

Deno.test("read lease: payloads outside the lent buffer are not tracked; a lease ends with reusable()", () => {
  const buf = new Uint8Array(64);
  const gathered = new Uint8Array(64);
  lend(buf.buffer);
  opened(buf, 0);
  assert.equal(payloadOpening(gathered.subarray(0, 8)), false);
  assert.equal(reusable(), true);
  assert.equal(payloadOpening(buf.subarray(0, 8)), false, "no lease now");
  assert.equal(reusable(), false);
});

Deno.test("read lease: counts lent and reused buffers", () => {
  const before = leaseCounts();
  const buf = new Uint8Array(64);
  parse(buf, [{ at: 0, released: true }]);
  parse(buf, [{ at: 0, released: false }]);
  const after = leaseCounts();
  assert.equal(after.lent - before.lent, 2);
  assert.equal(after.reused - before.reused, 1);
});
