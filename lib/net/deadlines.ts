/**
 * Many deadlines of one length, served by one timer. Each connection's
 * handshake deadline, or each channel open's wait for an answer, made a
 * timer and cleared it again (a Node timer under Deno is a few
 * microseconds to make and clear, a few percent of a tunneled connection's
 * CPU). Deadlines of one length expire in the order they were set, so the
 * one timer is set for the oldest; when it fires, it expires what is due
 * and is set again for the next. It may stay set after the last deadline is
 * cancelled, until it fires or `clear()` is called.
 */
export class Deadlines {
  readonly #ms: number;
  /** Oldest first (a Set keeps insertion order). */
  readonly #waiting = new Set<{ at: number; expired: () => void }>();
  #timer?: ReturnType<typeof setTimeout>;
  /** Expiring what is due: the timer is set again after, not by add(). */
  #firing = false;

  constructor(ms: number) {
    this.#ms = ms;
  }

  /** Call `expired` once the length has passed, unless the returned function is called first. */
  add(expired: () => void): () => void {
    const entry = { at: performance.now(), expired };
    this.#waiting.add(entry);
    if (!this.#firing) this.#timer ??= setTimeout(this.#fire, this.#ms);
    return () => {
      this.#waiting.delete(entry);
    };
  }

  /** Forget every deadline and stop the timer. */
  clear(): void {
    this.#waiting.clear();
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #fire = (): void => {
    this.#timer = undefined;
    this.#firing = true;
    try {
      const now = performance.now();
      for (const entry of this.#waiting) {
        if (entry.at + this.#ms > now) break;
        this.#waiting.delete(entry);
        entry.expired();
      }
    } finally {
      this.#firing = false;
    }
    // Set again for the oldest left (one added by an expired callback too).
    const next = this.#waiting.values().next();
    if (!next.done) {
      const wait = Math.max(0, next.value.at + this.#ms - performance.now());
      this.#timer = setTimeout(this.#fire, wait);
    }
  };
}
