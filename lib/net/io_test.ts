import assert from "node:assert/strict";
import { nextReadSize, writeAll, writeGathered } from "./io.ts";

Deno.test("nextReadSize(): doubles while reads fill the buffer, up to max; small reads go back to min", () => {
  const [min, max] = [4096, 262144];
  assert.equal(nextReadSize(4096, 4096, min, max), 8192);
  assert.equal(nextReadSize(131072, 131072, min, max), 262144);
  assert.equal(nextReadSize(262144, 262144, min, max), 262144, "never above max");
  assert.equal(nextReadSize(5000, 65536, min, max), 65536, "a partial read keeps the size");
  assert.equal(nextReadSize(100, 65536, min, max), 4096, "a small read goes back to min");
  assert.equal(nextReadSize(100, 4096, min, max), 4096);
});

/** A conn that records each write (copied) and takes at most `most` bytes per call. */
function recorder(most = Infinity) {
  const writes: Uint8Array[] = [];
  return {
    writes,
    write(data: Uint8Array): Promise<number> {
      const n = Math.min(data.length, most);
      writes.push(data.slice(0, n));
      return Promise.resolve(n);
    },
  };
}

Deno.test("writeGathered(): adjacent chunks as one range, the rest joined, in order", async () => {
  const slab = new Uint8Array(64).map((_, i) => i);
  const a = slab.subarray(0, 10), b = slab.subarray(10, 30); // back to back
  const c = new Uint8Array([200, 201, 202]), d = new Uint8Array([210, 211]);
  const big = new Uint8Array(20).fill(7); // larger than the join buffer
  // A join buffer, or its size (made only when something must be copied).
  for (const join of [new Uint8Array(8), 8]) {
    const conn = recorder();
    const done: Uint8Array[] = [];
    await writeGathered(conn, [c, a, b, d, c, big, d], join, (x) => done.push(x));
    assert.deepEqual(conn.writes.map((w) => [...w]), [
      [200, 201, 202],
      [...slab.subarray(0, 30)],
      [210, 211, 200, 201, 202],
      [...big],
      [210, 211],
    ]);
    assert.deepEqual(done, [c, a, b, d, c, big, d], "each chunk handed back once, in order");
  }
});

Deno.test("writeGathered(): back-to-back chunks with only a join size go out as they lie", async () => {
  const slab = new Uint8Array(32).map((_, i) => i);
  const conn = recorder();
  await writeGathered(conn, [slab.subarray(0, 5), slab.subarray(5, 12)], 64);
  assert.equal(conn.writes.length, 1);
  assert.deepEqual([...conn.writes[0]], [...slab.subarray(0, 12)]);
});

Deno.test("writeGathered(): short writes are finished before the next chunk", async () => {
  const conn = recorder(3);
  const chunks = [new Uint8Array([1, 2, 3, 4, 5]), new Uint8Array([6, 7])];
  await writeGathered(conn, chunks, new Uint8Array(4));
  assert.deepEqual([...conn.writes.flatMap((w) => [...w])], [1, 2, 3, 4, 5, 6, 7]);
});

Deno.test("writeAll hands the buffer itself to the first write, the rest after a short write, nothing when empty", async () => {
  const calls: Uint8Array[] = [];
  const out: number[] = [];
  // A socket that takes at most 3 bytes per write.
  const conn = {
    write: (p: Uint8Array) => {
      calls.push(p);
      out.push(...p.subarray(0, 3));
      return Promise.resolve(Math.min(3, p.length));
    },
  };
  const data = Uint8Array.of(1, 2, 3, 4, 5, 6, 7);
  await writeAll(conn, data);
  assert.deepEqual(out, [1, 2, 3, 4, 5, 6, 7]);
  assert.equal(calls.length, 3);
  assert.equal(calls[0], data, "the first write gets the buffer, not a view of it");
  await writeAll(conn, new Uint8Array(0));
  assert.equal(calls.length, 3, "an empty buffer is not written");
});
