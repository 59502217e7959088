/**
 * One-use entry points for FTP data connections.
 *
 * - `openLocalEntry`: a listener here (Deno.listen, port 0); its one
 *   connection is carried through a new SSH channel (`-L` passive, `-R`
 *   active).
 * - `openRemoteEntry` (data_remote.ts): a remote forward on the SSH
 *   server (tcpip-forward, port 0); its one connection is dialed to a
 *   destination here (`-L` active, `-R` passive).
 *
 * An entry takes exactly one connection, from the expected peer's address
 * only (others are turned away and logged, so another host cannot take a
 * transfer; loopback addresses count as one, as a client on ::1 may come
 * from 127.0.0.1, so local users are not told apart), and then stops
 * listening at once. Unused, it stops after `idleMs` (30 s), or
 * when its control connection ends or is superseded (`release()`). A running
 * transfer is never cut by `release()`; `DataHub.close()` (the tunnel
 * closing) ends everything. `DataHub.stats` counts what is live, so tests can
 * prove that thousands of transfers leave nothing behind.
 */
import type { Duplex } from "node:stream";
import { canonicalIp } from "../../protocols/ftp_parse.ts";
import { hostPort } from "../../config/forward.ts";
import { messageOf } from "../../errors.ts";
import { LogGate, logger } from "../../log.ts";
import type { SshConnection } from "../../ssh/connection.ts";
import { pump } from "../pump.ts";
import { closeQuietly } from "../../net/io.ts";
import { AcceptGuard } from "../../net/accept.ts";

const log = logger("tunnel", "ftp");

/** Whether a data connection from `address` comes from `allowed` (loopback is one peer). */
export function samePeer(address: string, allowed: string): boolean {
  const key = (a: string) => {
    const c = canonicalIp(a);
    return c.startsWith("127.") || c === "0:0:0:0:0:0:0:1" ? "loopback" : c;
  };
  return key(address) === key(allowed);
}

/** How long an unused data entry waits for its connection. */
export const DATA_IDLE_MS = 30_000;

/** The SSH operations FTP tunnels use. */
export type FtpSsh = Pick<SshConnection, "openDirect" | "forwardIn" | "unforwardIn">;

export interface DataStats {
  /** Local data listeners still listening. */
  listeners: number;
  /** Remote forwards still requested on the SSH server. */
  forwards: number;
  /** Data connections being carried now. */
  transfers: number;
  /** Data connections carried so far. */
  total: number;
}

/** A data address handed out in a rewritten reply or command. */
export interface DataEntry {
  /** The address to announce (the listener's, or the forward's bind). */
  readonly host: string;
  readonly port: number;
  /** True once the entry has taken its connection. */
  readonly used: boolean;
  /** Stop waiting for a connection; a running transfer goes on. */
  release(): void;
}

export interface Killable {
  kill(): void;
}

/** The data entries of one tunnel. */
export class DataHub {
  readonly stats: DataStats = { listeners: 0, forwards: 0, transfers: 0, total: 0 };
  readonly idleMs: number;
  /** Warnings a peer can cause (the FTP client or server, another host): one per kind and source per interval. */
  readonly gate = new LogGate();
  #entries = new Set<Killable>();
  #tasks = new Set<Promise<unknown>>();
  #closed = false;

  constructor(idleMs = DATA_IDLE_MS) {
    this.idleMs = idleMs;
  }

  get closed(): boolean {
    return this.#closed;
  }

  add(entry: Killable): void {
    this.#entries.add(entry);
  }

  remove(entry: Killable): void {
    this.#entries.delete(entry);
  }

  track(task: Promise<unknown>): void {
    this.#tasks.add(task);
    // then(f, f), not finally(): a rejected task must not become an unhandled rejection.
    const forget = () => void this.#tasks.delete(task);
    task.then(forget, forget);
  }

  /** End every entry and transfer; resolves when all have stopped. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const e of [...this.#entries]) e.kill();
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
    this.gate.close();
  }
}

export function logPump(label: string, r: { sent: number; received: number; error?: Error }): void {
  log.debug("{label} closed: {sent} bytes in, {received} out{err}", {
    label,
    sent: r.sent,
    received: r.received,
    err: r.error ? ` (${messageOf(r.error)})` : "",
  });
}

export interface LocalEntryOptions {
  /** The local address to listen on. */
  hostname: string;
  /** Only this peer address may connect (undefined: anyone). */
  allowedPeer?: string;
  /** For log lines: "data for 127.0.0.1:40000". */
  label: string;
  /** Open the SSH channel for the accepted connection. */
  connect(peer: Deno.NetAddr): Promise<Duplex>;
}

/** Listen here for one data connection and carry it through SSH. */
export function openLocalEntry(hub: DataHub, options: LocalEntryOptions): DataEntry {
  return new LocalEntry(hub, options);
}

class LocalEntry implements DataEntry, Killable {
  used = false;
  #hub: DataHub;
  #opts: LocalEntryOptions;
  #listener: Deno.TcpListener;
  #listening = true;
  #killed = false;
  #timer: ReturnType<typeof setTimeout>;
  #conn?: Deno.Conn;
  #channel?: Duplex;

  constructor(hub: DataHub, opts: LocalEntryOptions) {
    this.#hub = hub;
    this.#opts = opts;
    this.#listener = Deno.listen({ hostname: opts.hostname, port: 0, transport: "tcp" });
    hub.stats.listeners++;
    hub.add(this);
    this.#timer = setTimeout(() => {
      log.debug("{label}: unused for {s} s, closed", { label: opts.label, s: hub.idleMs / 1000 });
      this.release();
    }, hub.idleMs);
    hub.track(this.#run());
  }

  get host(): string {
    return this.#listener.addr.hostname;
  }

  get port(): number {
    return this.#listener.addr.port;
  }

  release(): void {
    if (!this.#listening) return;
    this.#listening = false;
    clearTimeout(this.#timer);
    closeQuietly(this.#listener);
    this.#hub.stats.listeners--;
  }

  kill(): void {
    this.#killed = true;
    this.release();
    if (this.#conn) closeQuietly(this.#conn);
    this.#channel?.destroy();
  }

  async #run(): Promise<void> {
    try {
      const conn = await this.#acceptOne();
      if (!conn) return;
      await this.#carry(conn);
    } finally {
      this.#hub.remove(this);
    }
  }

  async #acceptOne(): Promise<Deno.TcpConn | undefined> {
    const allowed = this.#opts.allowedPeer;
    const guard = new AcceptGuard(this.#opts.label);
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (err) {
        if (!this.#listening || err instanceof Deno.errors.BadResource) return undefined;
        await guard.failed(err); // a connection reset before we took it: wait for the next
        continue;
      }
      const peer = conn.remoteAddr;
      if (allowed && !samePeer(peer.hostname, allowed)) {
        this.#hub.gate.log(
          log,
          "warn",
          "data intruder",
          peer.hostname,
          "refused data connections",
          "{label}: refused a data connection from {peer} (expected {allowed})",
          { label: this.#opts.label, peer: hostPort(peer.hostname, peer.port), allowed },
        );
        closeQuietly(conn);
        continue;
      }
      this.used = true;
      this.release();
      return conn;
    }
  }

  async #carry(conn: Deno.TcpConn): Promise<void> {
    this.#conn = conn;
    this.#hub.stats.transfers++;
    this.#hub.stats.total++;
    try {
      conn.setNoDelay(true);
      let channel: Duplex;
      try {
        channel = await this.#opts.connect(conn.remoteAddr);
      } catch (err) {
        this.#hub.gate.log(
          log,
          "warn",
          "data channel",
          this.#opts.allowedPeer ?? "data",
          "failed data connections",
          "{label}: {err}",
          { label: this.#opts.label, err: messageOf(err) },
        );
        return;
      }
      if (this.#killed) return void channel.destroy();
      this.#channel = channel;
      logPump(this.#opts.label, await pump(conn, channel));
    } finally {
      closeQuietly(conn);
      this.#hub.stats.transfers--;
    }
  }
}
