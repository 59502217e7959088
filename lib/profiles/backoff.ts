/**
 * Jittered exponential backoff for reconnecting a profile's connection.
 *
 * The first failure costs nothing: the next client (or the next reconnect of
 * a held connection) tries again at once. From the second consecutive failure
 * on, attempts are spaced out: a delay drawn between half and all of
 * `base * 2^(failures-2)`, capped at `cap`. A success resets it.
 *
 *   failures  1    2         3         4         ...  8+
 *   delay     0    0.5–1 s   1–2 s     2–4 s     ...  30–60 s
 */

export interface BackoffOptions {
  /** Milliseconds; the upper bound of the delay after the second failure. */
  baseMs?: number;
  /** Milliseconds; no delay is longer. */
  capMs?: number;
  /** The clock (tests pass a fake one). */
  now?: () => number;
  /** A number in [0, 1) (tests pass a fixed one). */
  random?: () => number;
}

/** The delay before the next attempt after `failures` consecutive failures. */
export function backoffDelay(
  failures: number,
  baseMs: number,
  capMs: number,
  random: () => number,
): number {
  if (failures < 2) return 0;
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(failures - 2, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export class Backoff {
  #failures = 0;
  #notBefore = 0;
  #lastError = "";
  #base: number;
  #cap: number;
  #now: () => number;
  #random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.#base = options.baseMs ?? 1_000;
    this.#cap = options.capMs ?? 60_000;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
  }

  /** Consecutive failures so far. */
  get failures(): number {
    return this.#failures;
  }

  /** The last failure's message ("" after a success). */
  get lastError(): string {
    return this.#lastError;
  }

  /** Milliseconds until the next attempt may start; 0 = now. */
  remaining(): number {
    return Math.max(0, this.#notBefore - this.#now());
  }

  /** Record a failure; returns the delay before the next attempt. */
  failed(message: string): number {
    this.#failures++;
    this.#lastError = message;
    const delay = backoffDelay(this.#failures, this.#base, this.#cap, this.#random);
    this.#notBefore = this.#now() + delay;
    return delay;
  }

  succeeded(): void {
    this.#failures = 0;
    this.#notBefore = 0;
    this.#lastError = "";
  }
}
