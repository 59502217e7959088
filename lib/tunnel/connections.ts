/**
 * What every tunnel kind shares: the set of its live connections (so close()
 * can end them and wait for their tasks), the accept loop of a listener, and
 * the debug line written when a tunneled connection closes.
 */
import { hostPort } from "../config/forward.ts";
import { messageOf } from "../errors.ts";
import { debugEnabled, logger } from "../log.ts";
import { endConnection, type PumpResult } from "./pump.ts";
import { closeQuietly } from "../net/io.ts";
import { acceptEach, resourcesFreed } from "../net/accept.ts";
import { connectionClosed } from "../net/trim.ts";
import type { Activity } from "./types.ts";

const log = logger("tunnel");

export class ConnectionSet {
  #conns = new Set<{ close(): void }>();
  #tasks = new Set<Promise<void>>();
  #closed = false;
  #activity: Activity;
  #stop = new AbortController();

  constructor(activity: Activity) {
    this.#activity = activity;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Aborted by close(): cuts an accept loop's backoff short. */
  get signal(): AbortSignal {
    return this.#stop.signal;
  }

  /** Track a background task so close() can wait for it. */
  track(task: Promise<void>): void {
    this.#tasks.add(task);
    // then(f, f), not finally(): a rejected task must not become an unhandled rejection.
    const forget = () => void this.#tasks.delete(task);
    task.then(forget, forget);
  }

  /** Serve one connection: counted as activity, closed by close(). */
  serve(conn: { close(): void }, handler: () => Promise<void>): void {
    this.#conns.add(conn);
    this.#activity.opened();
    this.track(
      handler().catch((err) => {
        log.error("{err}", { err: messageOf(err) });
        closeQuietly(conn);
      }).finally(() => {
        this.#conns.delete(conn);
        this.#activity.closed();
        resourcesFreed();
        connectionClosed();
      }),
    );
  }

  /**
   * End every live connection and wait for their tasks. A connection still
   * writing a stream its SSH peer has finished is let finish (pump.ts).
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#stop.abort();
    for (const c of this.#conns) endConnection(c);
    await Promise.allSettled([...this.#tasks]);
  }
}

/**
 * Accept until the listener closes. A failed accept is retried at once, or
 * after a backoff when the process is out of descriptors (lib/net/accept.ts).
 */
export function acceptLoop<C extends Deno.Conn>(
  listener: Deno.Listener<C>,
  set: ConnectionSet,
  onConnection: (conn: C) => void,
): Promise<void> {
  const addr = listener.addr;
  const label = addr.transport === "tcp" || addr.transport === "udp"
    ? hostPort(addr.hostname, addr.port)
    : (addr as Deno.UnixAddr).path;
  return acceptEach(listener, label, () => set.closed, (conn) => {
    if (set.closed) closeQuietly(conn);
    else onConnection(conn);
  }, set.signal);
}

/** The debug line for a finished tunneled connection. */
export function logClosed(from: string, dst: string, r: PumpResult, startedAt: number): void {
  // Checked first: building the record costs more than the check, once per connection.
  if (!debugEnabled()) return;
  log.debug("{from} -> {dst} closed: {sent} bytes sent, {received} received, {ms} ms{err}", {
    from,
    dst,
    sent: r.sent,
    received: r.received,
    ms: Math.round(performance.now() - startedAt),
    err: r.error ? ` (${messageOf(r.error)})` : "",
  });
}
