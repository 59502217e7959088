/**
 * Deterministic pseudo-random bytes, shared by the origin server and tests so
 * that large transfers can be compared byte for byte without keeping both
 * copies in memory.
 *
 * The stream is xorshift32 words emitted little-end first. `Pattern` produces
 * the same sequence whatever the chunk sizes, so a receiver can check data as
 * it arrives: `new Pattern(seed).fill(buf)` for each incoming chunk.
 */

/** A stateful generator of the pattern sequence for one seed. */
export class Pattern {
  #state: number;
  #word = 0;
  #left = 0;

  constructor(seed = 1) {
    this.#state = ((seed ^ 0x9e3779b9) >>> 0) || 1;
  }

  /** Fill `buf` with the next `buf.length` bytes of the sequence. */
  fill(buf: Uint8Array): Uint8Array {
    let s = this.#state;
    let w = this.#word;
    let left = this.#left;
    for (let i = 0; i < buf.length; i++) {
      if (left === 0) {
        s ^= s << 13;
        s ^= s >>> 17;
        s ^= s << 5;
        s >>>= 0;
        w = s;
        left = 4;
      }
      buf[i] = w & 0xff;
      w >>>= 8;
      left--;
    }
    this.#state = s;
    this.#word = w;
    this.#left = left;
    return buf;
  }
}

/** The first `n` bytes of the pattern for `seed`. */
export function patternBytes(n: number, seed = 1): Uint8Array {
  return new Pattern(seed).fill(new Uint8Array(n));
}

/** A stream of the first `n` bytes of the pattern, in chunks of 64 KiB. */
export function patternStream(
  n: number,
  seed = 1,
): ReadableStream<Uint8Array> {
  const pattern = new Pattern(seed);
  let left = n;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (left <= 0) {
        controller.close();
        return;
      }
      const len = Math.min(left, 64 * 1024);
      left -= len;
      controller.enqueue(pattern.fill(new Uint8Array(len)));
    },
  }, { highWaterMark: 0 });
}
