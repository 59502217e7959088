/**
 * Noticing a silent outage fast. When the link to the server dies without a
 * FIN (a cable, a NAT that forgot us, a server frozen), keepalive alone takes
 * ServerAliveInterval × ServerAliveCountMax (90 s by default) to notice, and
 * every client that arrives meanwhile waits for a channel open that will
 * never be answered. So:
 *
 * - A request that gets no answer within SUSPECT_AFTER_MS (3 s: a channel
 *   open, a tcpip-forward) makes the connection `suspect`.
 * - A suspect connection is probed at once, and every PROBE_INTERVAL_MS
 *   (2 s) after: a global request (keepalive@openssh.com, want-reply) that
 *   any server answers at once, success or failure, even while it is still
 *   connecting a slow destination.
 * - Any answer, or any byte from the server, clears the suspicion (a busy
 *   link may queue the answer behind data, but then data is arriving).
 * - PROBES (3) unanswered probes with nothing received: the connection is
 *   declared dead (about 9 s after the open), so the waiting client fails
 *   fast or, in the broker, is carried by a fresh connection.
 *
 * ssh2 1.17 has no public call for a global request with a reply: probe()
 * does what its own keepalive does (client.js sendKA: a callback queued on
 * `_callbacks`, then `_protocol.ping()`). lib/ssh/health_test.ts fails if
 * those internals change.
 */
import type { Duplex } from "node:stream";
import type { Client } from "./ssh2.ts";
import { logger } from "../log.ts";
import { Deadlines } from "../net/deadlines.ts";

const log = logger("ssh");

export const SUSPECT_AFTER_MS = 3_000;
export const PROBE_INTERVAL_MS = 2_000;
export const PROBES = 3;

export interface HealthTiming {
  suspectAfterMs: number;
  probeIntervalMs: number;
  probes: number;
}

interface Ssh2Internals {
  _protocol?: { ping(): void };
  _callbacks?: ((answer: unknown) => void)[];
}

/**
 * Send one keepalive@openssh.com global request; `answered` runs with true
 * when the server replies (either way), false if the connection closes
 * first. Returns false when the probe cannot be sent.
 */
export function probe(client: Client, answered: (ok: boolean) => void): boolean {
  const c = client as unknown as Ssh2Internals;
  if (typeof c._protocol?.ping !== "function" || !Array.isArray(c._callbacks)) return false;
  // REQUEST_SUCCESS calls back (false, data), REQUEST_FAILURE (true), a close (Error).
  c._callbacks.push((answer: unknown) => answered(typeof answer === "boolean"));
  try {
    c._protocol.ping();
  } catch {
    c._callbacks.pop();
    return false;
  }
  return true;
}

export type Health = "connected" | "suspect";

export class LinkHealth {
  #client: Client;
  #label: string;
  #onDead: (reason: string) => void;
  #timing: HealthTiming;
  /** The requests not answered yet. */
  #waiting: Deadlines;
  #probeTimer?: ReturnType<typeof setTimeout>;
  #sent = 0;
  #answered = false;
  #received = 0;
  #closed = false;
  state: Health = "connected";

  constructor(
    client: Client,
    sock: Duplex | undefined,
    label: string,
    onDead: (reason: string) => void,
    timing: Partial<HealthTiming> = {},
  ) {
    this.#client = client;
    this.#label = label;
    this.#onDead = onDead;
    this.#timing = {
      suspectAfterMs: timing.suspectAfterMs ?? SUSPECT_AFTER_MS,
      probeIntervalMs: timing.probeIntervalMs ?? PROBE_INTERVAL_MS,
      probes: timing.probes ?? PROBES,
    };
    this.#waiting = new Deadlines(this.#timing.suspectAfterMs);
    sock?.on("data", () => this.#received++);
  }

  /** A request went out; call the result when it is answered (or failed). */
  watch(what: string): () => void {
    if (this.#closed) return () => {};
    return this.#waiting.add(() => this.#suspect(what));
  }

  /** The connection is gone: stop every timer. */
  close(): void {
    this.#closed = true;
    this.#waiting.clear();
    clearTimeout(this.#probeTimer);
    this.#probeTimer = undefined;
  }

  #suspect(what: string): void {
    if (this.#closed || this.state === "suspect") return;
    this.state = "suspect";
    this.#sent = 0;
    this.#answered = false;
    const received = this.#received;
    log.debug("Connection to {label}: {what} unanswered for {s} s: probing", {
      label: this.#label,
      what,
      s: this.#timing.suspectAfterMs / 1000,
    });
    const round = () => {
      this.#probeTimer = undefined;
      if (this.#closed) return;
      if (this.#answered || this.#received !== received) {
        this.state = "connected";
        log.debug("Connection to {label} answered", { label: this.#label });
        return;
      }
      if (this.#sent >= this.#timing.probes) {
        const secs = (this.#sent * this.#timing.probeIntervalMs) / 1000;
        this.close();
        this.#onDead(
          `no answer to ${this.#sent} probes in ${secs} s after a ${what} went unanswered ` +
            `for ${this.#timing.suspectAfterMs / 1000} s`,
        );
        return;
      }
      const sent = probe(this.#client, (ok) => {
        if (!ok || this.#closed || this.#answered) return;
        this.#answered = true;
        clearTimeout(this.#probeTimer);
        round();
      });
      if (!sent) {
        // Nothing to probe with: leave it to keepalive rather than guess.
        this.state = "connected";
        return;
      }
      this.#sent++;
      this.#probeTimer = setTimeout(round, this.#timing.probeIntervalMs);
    };
    round();
  }
}
