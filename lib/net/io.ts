/** Small helpers for Deno connections: write all of a buffer, close quietly, size reads. */

/** Write every byte of `data`. */
export async function writeAll(
  conn: Pick<Deno.Conn, "write">,
  data: Uint8Array,
): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
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
