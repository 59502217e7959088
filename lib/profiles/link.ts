/**
 * One profile's SSH connection as the broker runs it: opened lazily by the
 * first channel anyone needs, shared by every tunnel of the profile, closed
 * after idle-timeout with no channel or remote forward open, opened again on
 * demand.
 *
 * - Failures: a client whose connection cannot be opened is dropped, and the
 *   failure counted; after repeated failures attempts are spaced out with
 *   jittered exponential backoff (backoff.ts), and a client arriving during
 *   the wait is dropped at once with a line saying so.
 * - Held links (connect-on-startup, remote tunnels) stay connected: no idle
 *   close, and a lost connection is reopened in the background with the same
 *   backoff. `onConnected` listeners (remote tunnels) run on every new
 *   connection.
 * - A gateway profile: the connection runs over a direct-tcpip channel of
 *   the gateway's link, which counts as one of its channels, so the gateway
 *   stays up exactly as long as a connection through it does.
 * - A lost connection never touches listeners; the next client reconnects.
 *
 * Each connection attempt is a `Session` with its own id, channel count and
 * byte counters, which `warren ctl list-connections` shows.
 */
import type { Duplex } from "node:stream";
import { hostPort } from "../config/forward.ts";
import type { ProfileConfig } from "../config/tectia/model.ts";
import { messageOf, WarrenError } from "../errors.ts";
import { logger } from "../log.ts";
import type { IncomingTcpHandler, SshConnection } from "../ssh/connection.ts";
import type { ClientChannel } from "../ssh/ssh2.ts";
import type { RemoteForwarder } from "../tunnel/remote.ts";
import { Backoff } from "./backoff.ts";
import { endsSoon, isRefusal, Session, type SessionInfo } from "./session.ts";
import { countChannel, type Traffic } from "./traffic.ts";

const log = logger("broker");

/** A connection that lived shorter than this and was lost counts as a failure. */
const SHORT_LIVED_MS = 10_000;

export interface LinkOptions {
  /** Open this profile's SSH connection, over `sock` for a gateway profile. */
  connect(sock?: Duplex): Promise<SshConnection>;
  /** The gateway profile's link, for a profile with gateway-profile. */
  gateway?: () => ProfileLink;
  /** Milliseconds with nothing open before the connection closes. */
  idleTimeoutMs: number;
  /** Connection ids, unique in the broker. */
  nextId(): number;
  backoff?: Backoff;
}

export class ProfileLink {
  readonly profile: ProfileConfig;
  #opts: LinkOptions;
  #backoff: Backoff;
  #session?: Session;
  #connecting?: Promise<Session>;
  #closing = new Set<Session>();
  #closeTasks = new Set<Promise<void>>();
  #holds = 0;
  #idleTimer?: ReturnType<typeof setTimeout>;
  #reconnectTimer?: ReturnType<typeof setTimeout>;
  #retired = false;
  #stopped = false;
  #listeners = new Set<(session: Session) => void>();
  #forwards = new Map<string, Session>();

  constructor(profile: ProfileConfig, opts: LinkOptions) {
    this.profile = profile;
    this.#opts = opts;
    this.#backoff = opts.backoff ?? new Backoff();
  }

  /** "host:port (profile 'id')" for messages. */
  get label(): string {
    return `${hostPort(this.profile.host, this.profile.port)} (profile '${this.profile.id}')`;
  }

  get retired(): boolean {
    return this.#retired;
  }

  /** Whether nothing is left: no connection, none opening or closing. */
  get finished(): boolean {
    return !this.#session && !this.#connecting && this.#closing.size === 0;
  }

  /** The connections to list: the current one and any still closing. */
  sessions(): SessionInfo[] {
    const all = [...(this.#session ? [this.#session] : []), ...this.#closing];
    const via = this.profile.gatewayProfile ? ` via ${this.profile.gatewayProfile}` : "";
    return all.map((s) => ({
      id: s.id,
      profile: this.profile.id,
      host: hostPort(this.profile.host, this.profile.port) + via,
      state: s.state === "connected" && s.ssh?.health === "suspect" ? "suspect" : s.state,
      channels: s.channels,
      forwards: s.forwards,
      sent: s.traffic.sent,
      received: s.traffic.received,
      since: s.since.toISOString(),
    }));
  }

  /** The live connection, opening it if needed. */
  acquire(): Promise<Session> {
    if (this.#stopped || this.#retired) {
      return Promise.reject(
        new WarrenError(
          "connect",
          `Profile '${this.profile.id}' is ${
            this.#stopped ? "shut down" : "being replaced (reload)"
          }`,
        ),
      );
    }
    const current = this.#session;
    if (current?.state === "connected") return Promise.resolve(current);
    if (this.#connecting) return this.#connecting;
    const wait = this.#backoff.remaining();
    if (wait > 0) {
      return Promise.reject(
        new WarrenError(
          "connect",
          `Not connecting to ${this.label} for another ${Math.ceil(wait / 1000)} s after ` +
            `${this.#backoff.failures} failures (last: ${this.#backoff.lastError})`,
        ),
      );
    }
    const connecting = this.#connect();
    this.#connecting = connecting;
    connecting.then(
      () => this.#connecting = undefined,
      () => {
        this.#connecting = undefined;
        this.#reconnectIfHeld();
      },
    );
    return connecting;
  }

  async #connect(): Promise<Session> {
    const session = new Session(this.#opts.nextId());
    this.#session = session;
    log.info("Connection {id}: connecting to {label}", { id: session.id, label: this.label });
    let ssh: SshConnection;
    try {
      let sock: Duplex | undefined;
      const gateway = this.#opts.gateway?.();
      if (gateway) {
        try {
          sock = await gateway.openDirect("127.0.0.1", 0, this.profile.host, this.profile.port);
        } catch (err) {
          throw new WarrenError(
            "connect",
            `Cannot reach ${this.label} through profile '${gateway.profile.id}': ${messageOf(err)}`,
            { cause: err },
          );
        }
      }
      ssh = await this.#opts.connect(sock);
    } catch (err) {
      if (this.#session === session) this.#session = undefined;
      const delay = this.#backoff.failed(messageOf(err));
      log.error("Connection {id}: {err}{retry}", {
        id: session.id,
        err: messageOf(err),
        retry: delay > 0 ? ` (next attempt in ${(delay / 1000).toFixed(1)} s at the earliest)` : "",
      });
      throw err;
    }
    if (this.#stopped || this.#session !== session) {
      await ssh.close();
      throw new WarrenError("connect", `Profile '${this.profile.id}' is shut down`);
    }
    session.ssh = ssh;
    session.state = "connected";
    ssh.closed.then((err) => this.#ended(session, err));
    log.info("Connection {id} to {label} is up", { id: session.id, label: this.label });
    for (const listener of this.#listeners) listener(session);
    this.#checkIdle(session);
    return session;
  }

  #ended(session: Session, err: WarrenError | null): void {
    if (this.#session === session) {
      this.#session = undefined;
      this.#clearIdle();
    }
    this.#closing.delete(session);
    for (const [key, s] of this.#forwards) if (s === session) this.#forwards.delete(key);
    const lived = Date.now() - session.since.getTime();
    if (err && session.state !== "closing") {
      log.warn("Connection {id}: {err}", { id: session.id, err: err.message });
      if (lived < SHORT_LIVED_MS) this.#backoff.failed(err.message);
      else this.#backoff.succeeded();
    } else {
      log.info("Connection {id} to {label} closed", { id: session.id, label: this.label });
      this.#backoff.succeeded();
    }
    session.state = "closing";
    this.#reconnectIfHeld();
  }

  /** Open a direct-tcpip channel, counted in `counters` too. */
  async openDirect(
    srcHost: string,
    srcPort: number,
    dstHost: string,
    dstPort: number,
    counters: Traffic[] = [],
  ): Promise<ClientChannel> {
    for (let attempt = 1;; attempt++) {
      const session = await this.acquire();
      const done = this.#opening(session);
      try {
        const channel = await session.ssh!.openDirect(srcHost, srcPort, dstHost, dstPort);
        this.#track(session, channel, counters);
        return channel;
      } catch (err) {
        // The connection died under us (not a refusal by a live server): once more, afresh.
        if (attempt === 1 && !isRefusal(err) && await endsSoon(session)) continue;
        throw err;
      } finally {
        done();
      }
    }
  }

  /** A tcpip-forward on the live connection (FTP data entries use this). */
  async forwardIn(
    address: string,
    port: number,
    handler: IncomingTcpHandler,
    counters: Traffic[] = [],
  ): Promise<number> {
    const session = await this.acquire();
    const bound = await this.forwarderFor(session, counters).forwardIn(address, port, handler);
    this.#forwards.set(`${address}:${bound}`, session);
    return bound;
  }

  async unforwardIn(address: string, port: number): Promise<void> {
    const session = this.#forwards.get(`${address}:${port}`);
    this.#forwards.delete(`${address}:${port}`);
    if (session) await this.forwarderFor(session).unforwardIn(address, port);
  }

  /**
   * Remote forwards bound to one connection: accepted channels are counted,
   * and the connection is not idle while a forward is in place.
   */
  forwarderFor(session: Session, counters: Traffic[] = []): RemoteForwarder {
    const keys = new Set<string>();
    return {
      forwardIn: async (address, port, handler) => {
        if (session.state !== "connected") {
          throw new WarrenError("connect", `Connection ${session.id} is closed`);
        }
        const done = this.#opening(session);
        let bound: number;
        try {
          bound = await session.ssh!.forwardIn(
            address,
            port,
            (details, accept, reject) =>
              handler(details, () => {
                const channel = accept();
                this.#track(session, channel, counters);
                return channel;
              }, reject),
          );
          keys.add(`${address}:${bound}`);
          session.forwards++;
        } finally {
          done();
        }
        return bound;
      },
      unforwardIn: async (address, port) => {
        if (!keys.delete(`${address}:${port}`)) return;
        session.forwards--;
        if (session.state === "connected") await session.ssh!.unforwardIn(address, port);
        this.#checkIdle(session);
      },
    };
  }

  /**
   * A channel open or forward request is on its way: the connection is not
   * idle until it is answered (an idle-timeout shorter than the server's
   * answer would close the connection under it). Returns the "answered".
   */
  #opening(session: Session): () => void {
    session.opening++;
    if (session === this.#session) this.#clearIdle();
    return () => {
      session.opening--;
      this.#checkIdle(session);
    };
  }

  #track(session: Session, channel: Duplex, counters: Traffic[]): void {
    session.channels++;
    this.#clearIdle();
    countChannel(channel, [session.traffic, ...counters]);
    channel.once("close", () => {
      session.channels--;
      this.#checkIdle(session);
    });
  }

  /** Keep the connection up (and reopen it when lost) until released. */
  hold(): () => void {
    this.#holds++;
    this.#clearIdle();
    this.#reconnectIfHeld();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#holds--;
      if (this.#session) this.#checkIdle(this.#session);
    };
  }

  /** Run `fn` on every new connection (and now, if connected); returns an unsubscribe. */
  onConnected(fn: (session: Session) => void): () => void {
    this.#listeners.add(fn);
    if (this.#session?.state === "connected") fn(this.#session);
    return () => this.#listeners.delete(fn);
  }

  #reconnectIfHeld(): void {
    if (this.#holds === 0 || this.#stopped || this.#retired) return;
    if (this.#reconnectTimer !== undefined || this.#connecting) return;
    if (this.#session?.state === "connected") return;
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#holds === 0 || this.#session?.state === "connected") return;
      // A failure is logged and schedules the next attempt itself.
      this.acquire().catch(() => {});
    }, this.#backoff.remaining());
  }

  #checkIdle(session: Session): void {
    if (session !== this.#session || session.state !== "connected") return;
    const busy = session.channels > 0 || session.forwards > 0 || session.opening > 0;
    if (busy || (this.#holds > 0 && !this.#retired)) return this.#clearIdle();
    if (this.#idleTimer !== undefined) return;
    const ms = this.#retired ? 0 : this.#opts.idleTimeoutMs;
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      if (
        session === this.#session && session.channels === 0 && session.forwards === 0 &&
        session.opening === 0
      ) {
        log.info("Connection {id}: idle, closing", { id: session.id });
        this.#close(session);
      }
    }, ms);
  }

  #clearIdle(): void {
    if (this.#idleTimer === undefined) return;
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  #close(session: Session): void {
    if (this.#session === session) {
      this.#session = undefined;
      this.#clearIdle();
    }
    if (!session.ssh || this.#closing.has(session)) return;
    session.state = "closing";
    this.#closing.add(session);
    const task = session.ssh.close().finally(() => {
      this.#closing.delete(session);
      this.#closeTasks.delete(task);
    });
    this.#closeTasks.add(task);
  }

  /** `warren ctl close-connection ID`: true if the id was this link's. */
  closeSession(id: number): boolean {
    const session = this.#session?.id === id
      ? this.#session
      : [...this.#closing].find((s) => s.id === id);
    if (!session?.ssh) return false;
    log.info("Connection {id}: closing on request", { id });
    this.#close(session);
    return true;
  }

  /** Reload replaced or removed the profile: no new connections; close when idle. */
  retire(): void {
    this.#retired = true;
    this.#listeners.clear();
    if (this.#reconnectTimer !== undefined) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.#clearIdle();
    if (this.#session) this.#checkIdle(this.#session);
  }

  /** Close everything now (broker shutdown). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#listeners.clear();
    if (this.#reconnectTimer !== undefined) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.#clearIdle();
    await this.#connecting?.catch(() => {});
    if (this.#session) this.#close(this.#session);
    await Promise.allSettled([...this.#closeTasks]);
  }
}
