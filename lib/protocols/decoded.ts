/**
 * What every protocol decoder in lib/protocols/ returns. A decoder is a pure
 * function over all the bytes received so far; it never throws on input:
 *
 * - `need-more`: the message is incomplete and could still be valid.
 * - `error`: the input can never become valid. `reply`, when present, is the
 *   protocol's own failure reply to send before closing; without it, close.
 * - `done`: a whole message; `used` bytes belong to it, the rest is what the
 *   client sent after it (the next message, or data for the destination).
 */
export type Decoded<T> =
  | { kind: "need-more" }
  | { kind: "error"; message: string; reply?: Uint8Array }
  | { kind: "done"; value: T; used: number };

export const NEED_MORE: { kind: "need-more" } = { kind: "need-more" };

/** An `error` result (a helper that keeps decoders short). */
export function failed(
  message: string,
  reply?: Uint8Array,
): { kind: "error"; message: string; reply?: Uint8Array } {
  return reply === undefined ? { kind: "error", message } : { kind: "error", message, reply };
}

/** A host name as a proxy client sends it: printable ASCII, no spaces. */
export function isPlausibleHostName(name: string): boolean {
  return name.length > 0 && name.length <= 255 && /^[\x21-\x7e]+$/.test(name);
}
