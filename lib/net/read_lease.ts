/**
 * Lending a socket's read buffer through one synchronous parse, so that it
 * can be read into again when nobody kept a view of it.
 *
 * The SSH transport reads 256 KiB at a time and opens the packets where they
 * lie; each payload is a view of the read buffer. A payload's consumer may
 * keep that view (ssh2 keeps a key exchange's messages, a channel's reader
 * may buffer its data), so by default every read gets a fresh buffer, and
 * allocating them was a tenth of a download's CPU. A consumer that copies
 * what it needs while the payload is being handled says so with `release()`;
 * if every payload opened from a buffer was released that way, the transport
 * reuses the buffer. Anything not released (or not seen: bytes parsed by
 * anything but the packet opener) keeps the buffer from being reused, so a
 * consumer that does not know of leases is safe by default.
 *
 * A packet of channel data whose channel has a sink (the tunnel pump's fill
 * buffer) can skip the payload altogether: the opener decrypts the data
 * straight into the sink (`sinksFor`), and nothing of it stays in the buffer.
 *
 * The protocol, all within one synchronous turn:
 *  1. the transport `lend()`s the buffer and hands the bytes to the parser;
 *  2. the packet opener, called on them from their first byte, says
 *     `opened()`; around each payload it opens from the buffer it calls
 *     `payloadOpening()` and `payloadHandled()`;
 *  3. a consumer that copied a payload's bytes calls `release(view)`;
 *  4. the transport asks `reusable()`.
 */

/**
 * Where a packet's data may be decrypted straight to, instead of in place:
 * room for `len` bytes (or undefined: deliver it the usual way), then
 * commit() once the packet's tag checked out.
 */
export interface DataSink {
  room(len: number): Uint8Array | undefined;
  commit(len: number): void;
}
/** The sinks of the lent buffer's connection, by the channel a packet is for. */
export type SinkLookup = (recipient: number) => DataSink | undefined;

let lent: ArrayBufferLike | null = null;
let sinks: SinkLookup | undefined;
/** The opener parsed the lent bytes from the first. */
let covered = false;
/** A payload of the lent buffer is being handled and has not been released. */
let open = false;
/** A payload was handled without a release: a view of the buffer may live on. */
let kept = false;

/** Step 1: the bytes of `buffer` are about to be parsed; `lookup`: its connection's sinks. */
export function lend(buffer: ArrayBufferLike, lookup?: SinkLookup): void {
  lent = buffer;
  sinks = lookup;
  covered = false;
  open = false;
  kept = false;
}

/** Step 2: the packet opener starts on `data` at `offset`. */
export function opened(data: Uint8Array, offset: number): void {
  if (lent !== null && data.buffer === lent && data.byteOffset + offset === 0) covered = true;
}

/** Step 2: a payload is handed on; true if it lies in the lent buffer (then call payloadHandled). */
export function payloadOpening(payload: Uint8Array): boolean {
  if (lent === null || payload.buffer !== lent) return false;
  if (open) kept = true; // a payload handled inside another: not expected, so not trusted
  open = true;
  return true;
}

/** Step 2: the payload's handler returned. */
export function payloadHandled(): void {
  if (open) kept = true;
  open = false;
}

/** Step 3: the consumer copied `view` (part of the payload being handled) and keeps none of it. */
export function release(view: Uint8Array): void {
  if (open && view.buffer === lent) open = false;
}

let lentCount = 0;
let reusedCount = 0;

/** The sinks for a packet that lies in the lent buffer, if its connection has any. */
export function sinksFor(view: Uint8Array): SinkLookup | undefined {
  return lent !== null && view.buffer === lent ? sinks : undefined;
}

/** Step 4: whether the lent buffer may be read into again; ends the lease. */
export function reusable(): boolean {
  if (lent === null) return false;
  const ok = covered && !open && !kept;
  lent = null;
  sinks = undefined;
  lentCount++;
  if (ok) reusedCount++;
  return ok;
}

/** Buffers lent and found reusable, in this process so far (for tests and debugging). */
export function leaseCounts(): { lent: number; reused: number } {
  return { lent: lentCount, reused: reusedCount };
}
