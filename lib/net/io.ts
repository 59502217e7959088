/** Small helpers for Deno connections: write all of a buffer, close quietly. */

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
