import type { Activity } from "./types.ts";

/** Counts live tunneled connections; resolves `idle` for one-shot mode. */
export class ActivityTracker implements Activity {
  live = 0;
  total = 0;
  #idle = Promise.withResolvers<void>();
  get idle(): Promise<void> {
    return this.#idle.promise;
  }
  opened(): void {
    this.live++;
    this.total++;
  }
  closed(): void {
    this.live--;
    if (this.live === 0 && this.total > 0) this.#idle.resolve();
  }
}
