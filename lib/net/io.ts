/** Small helpers for Deno connections: write all of a buffer (or several), close quietly, size reads. */
import { Buffer } from "node:buffer";

/**
 * A Buffer holding a copy of `bytes`. Small ones come from Node's shared
 * pool (allocUnsafe): a fresh ArrayBuffer costs about a microsecond to make
 * (and collect), a carve from the pool a tenth of that; `Buffer.from` of a
 * Uint8Array makes a fresh one.
 */
export function copyBytes(bytes: Uint8Array): Buffer {
  const copy = Buffer.allocUnsafe(bytes.length);
  copy.set(bytes);
  return copy;
}

/** The bytes of `parts`, one after the other (the part itself when there is one). */
export function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Write every byte of `data`. */
export async function writeAll(
  conn: Pick<Deno.Conn, "write">,
  data: Uint8Array,
): Promise<void> {
  if (data.length === 0) return;
  // The first write takes the whole buffer as it is (a view per write is an
  // allocation, and most writes go out whole).
  let off = await conn.write(data);
  while (off < data.length) off += await conn.write(data.subarray(off));
}

/**
 * Write `chunks` in order with as few system calls as copies allow: chunks
 * that lie back to back in one buffer go out as one range with no copy; the
 * rest are copied into `join` and written together, up to its size (a chunk
 * larger than `join` goes as it is). `join` may be a size instead: a buffer
 * of that size is made only if something must be copied. `done` hears of
 * each chunk once it is written or copied, so its memory may be used again.
 */
export async function writeGathered(
  conn: Pick<Deno.Conn, "write">,
  chunks: readonly Uint8Array[],
  joinOrSize: Uint8Array | number,
  done: (chunk: Uint8Array) => void = () => {},
): Promise<void> {
  const size = typeof joinOrSize === "number" ? joinOrSize : joinOrSize.length;
  let made = typeof joinOrSize === "number" ? undefined : joinOrSize;
  const join = () => made ??= new Uint8Array(size);
  let used = 0;
  const flush = async () => {
    if (used > 0) await writeAll(conn, join().subarray(0, used));
    used = 0;
  };
  for (let i = 0; i < chunks.length;) {
    const first = chunks[i];
    let end = first.byteOffset + first.length;
    let j = i + 1;
    while (
      j < chunks.length && chunks[j].buffer === first.buffer && chunks[j].byteOffset === end
    ) {
      end += chunks[j].length;
      j++;
    }
    if (j - i > 1 || first.length > size) {
      await flush();
      await writeAll(conn, new Uint8Array(first.buffer, first.byteOffset, end - first.byteOffset));
      for (let k = i; k < j; k++) done(chunks[k]);
      i = j;
      continue;
    }
    if (used + first.length > size) await flush();
    join().set(first, used);
    used += first.length;
    done(first);
    i++;
  }
  await flush();
}

/** Close a connection or listener that may be closed already. */
export function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch {
    // Already closed.
  }
}

/**
 * The size of the next read buffer after a read of `n` bytes into one of
 * `size`: doubled while reads fill it (up to `max`), back to `min` after a
 * read shorter than `min`, else the same. Bulk transfers read in large
 * pieces, and an idle connection waits on a small buffer.
 */
export function nextReadSize(n: number, size: number, min: number, max: number): number {
  if (n === size) return Math.min(size * 2, max);
  return n < min ? min : size;
}
