/**
 * A timer that can be paused: the handshake deadline stops while the user is
 * answering a host-key or password question, so a slow typist is not timed out.
 */
export class Deadline implements Disposable {
  #remaining: number;
  #startedAt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #onExpire: () => void;
  #done = false;

  constructor(ms: number, onExpire: () => void) {
    this.#remaining = ms;
    this.#onExpire = onExpire;
    if (ms > 0) this.resume();
    else this.#done = true;
  }

  pause(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#remaining -= Date.now() - this.#startedAt;
  }

  resume(): void {
    if (this.#done || this.#timer !== undefined) return;
    this.#startedAt = Date.now();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#done = true;
      this.#onExpire();
    }, Math.max(0, this.#remaining));
  }

  /** Run `fn` with the deadline paused. */
  async paused<T>(fn: () => Promise<T>): Promise<T> {
    this.pause();
    try {
      return await fn();
    } finally {
      this.resume();
    }
  }

  clear(): void {
    this.pause();
    this.#done = true;
  }

  [Symbol.dispose](): void {
    this.clear();
  }
}
