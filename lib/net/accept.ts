/**
 * What an accept loop does when accept() fails.
 *
 * - A failure that concerns only the connection being accepted (it was reset
 *   or aborted before we took it, "Transport endpoint is not connected", a
 *   protocol or network error on it) is retried at once, with a debug line
 *   at most: the next connection in the queue is unaffected, and anyone can
 *   cause such failures (a client that connects and resets), so they must
 *   cost nothing.
 * - Resource exhaustion (out of file descriptors or memory: EMFILE, ENFILE,
 *   ENOBUFS, ENOMEM) leaves the connection queued, so retrying at once would
 *   spin: the loop backs off (10 ms doubling to 1 s, or sooner when one of
 *   our own connections closes and frees a descriptor) and logs once per
 *   episode: one warning when it starts, one line when accepts have worked
 *   for a while again.
 * - Anything else is retried at once a few times, then treated like
 *   exhaustion, so an unknown persistent failure neither spins nor floods.
 */
import { debugEnabled, logger } from "../log.ts";

const log = logger("net");

/** Failures of the one connection being accepted (Linux accept(2) and Deno's getpeername). */
const CONNECTION_CODES = new Set([
  "ECONNRESET",
  "ECONNABORTED",
  "ENOTCONN",
  "EPROTO",
  "EPERM",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ENONET",
  "ENOPROTOOPT",
  "EOPNOTSUPP",
  "EINTR",
  "EAGAIN",
  "EWOULDBLOCK",
]);

/** The process (or system) is out of something; the connection stays queued. */
const EXHAUSTION_CODES = new Set(["EMFILE", "ENFILE", "ENOBUFS", "ENOMEM"]);

export type AcceptFailure = "connection" | "exhausted" | "other";

/** What kind of accept failure `err` is. */
export function classifyAcceptError(err: unknown): AcceptFailure {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === "string") {
    if (EXHAUSTION_CODES.has(code)) return "exhausted";
    if (CONNECTION_CODES.has(code)) return "connection";
  }
  if (
    err instanceof Deno.errors.ConnectionReset || err instanceof Deno.errors.ConnectionAborted ||
    err instanceof Deno.errors.NotConnected || err instanceof Deno.errors.Interrupted
  ) return "connection";
  const message = err instanceof Error ? err.message : String(err);
  if (/os error (24|23|105|12)\)/.test(message)) return "exhausted";
  if (/os error (104|103|107|71)\)/.test(message)) return "connection";
  return "other";
}

const FIRST_DELAY_MS = 10;
const MAX_DELAY_MS = 1_000;
/** Unknown failures in a row retried at once before backing off. */
const OTHER_RETRIES = 8;
/** Accepts must work this long before an episode counts as over. */
const RECOVERED_AFTER_MS = 5_000;

let freed: (() => void)[] = [];

/**
 * A connection of ours closed (a descriptor is free): wake the accept loops
 * that are backing off, rather than let them sleep out their delay.
 */
export function resourcesFreed(): void {
  if (freed.length === 0) return;
  const wake = freed;
  freed = [];
  for (const w of wake) w();
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      freed = freed.filter((w) => w !== done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done);
    freed.push(done);
  });
}

/** The failure handling of one accept loop (`label`: "127.0.0.1:8080" for log lines). */
export class AcceptGuard {
  readonly label: string;
  #signal?: AbortSignal;
  #delay = FIRST_DELAY_MS;
  #othersInARow = 0;
  /** The episode of exhaustion (or repeated unknown failures) under way. */
  #episode?: { since: number; last: number; failures: number; first: string };
  #recoveredTimer?: ReturnType<typeof setTimeout>;

  constructor(label: string, signal?: AbortSignal) {
    this.label = label;
    this.#signal = signal;
  }

  /** Handle one failure: log as its kind says and wait if it must. */
  async failed(err: unknown): Promise<void> {
    const kind = classifyAcceptError(err);
    const message = err instanceof Error ? err.message : String(err);
    if (kind === "connection") {
      this.#othersInARow = 0;
      if (debugEnabled()) {
        log.debug("Accept on {label}: a connection went away before it was taken: {err}", {
          label: this.label,
          err: message,
        });
      }
      return;
    }
    if (kind === "other" && ++this.#othersInARow <= OTHER_RETRIES) {
      this.#note(message);
      return;
    }
    this.#note(message);
    await pause(this.#delay, this.#signal);
    this.#delay = Math.min(MAX_DELAY_MS, this.#delay * 2);
  }

  /** A connection was accepted. */
  succeeded(): void {
    this.#othersInARow = 0;
    this.#delay = FIRST_DELAY_MS;
    if (this.#episode && this.#recoveredTimer === undefined) {
      this.#recoveredTimer = setTimeout(() => this.#recovered(), RECOVERED_AFTER_MS);
    }
  }

  /** The loop ended: no timer may outlive it. */
  close(): void {
    clearTimeout(this.#recoveredTimer);
    this.#recoveredTimer = undefined;
  }

  #note(message: string): void {
    clearTimeout(this.#recoveredTimer);
    this.#recoveredTimer = undefined;
    const now = performance.now();
    if (this.#episode) {
      this.#episode.failures++;
      this.#episode.last = now;
      return;
    }
    this.#episode = { since: now, last: now, failures: 1, first: message };
    log.warn("Cannot accept connections on {label}: {err}; retrying until it recovers", {
      label: this.label,
      err: message,
    });
  }

  #recovered(): void {
    this.#recoveredTimer = undefined;
    const e = this.#episode;
    if (!e) return;
    this.#episode = undefined;
    log.info(
      "Accepting connections on {label} again, after {n} failed accepts over {s} s ({err})",
      { label: this.label, n: e.failures, s: ((e.last - e.since) / 1000).toFixed(1), err: e.first },
    );
  }
}

/**
 * Accept until `stopped()` says the listener was closed (or it reports
 * BadResource), passing each connection on; failures go through an
 * AcceptGuard. `signal` cuts a backoff short when the owner closes.
 */
export async function acceptEach<C extends Deno.Conn>(
  listener: Deno.Listener<C>,
  label: string,
  stopped: () => boolean,
  onConnection: (conn: C) => void,
  signal?: AbortSignal,
): Promise<void> {
  const guard = new AcceptGuard(label, signal);
  try {
    for (;;) {
      let conn: C;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (stopped() || err instanceof Deno.errors.BadResource) return;
        await guard.failed(err);
        continue;
      }
      guard.succeeded();
      onConnection(conn);
      if (stopped()) return;
    }
  } finally {
    guard.close();
  }
}
