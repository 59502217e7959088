/**
 * A local tunnel (-L): listen here, and for each accepted connection open a
 * direct-tcpip channel to dst-host:dst-port, which the SSH server resolves and
 * connects (so "localhost" is the server itself).
 */
import type { ForwardSpec } from "../cli/forward.ts";
import { hostPort } from "../cli/forward.ts";
import { messageOf } from "../errors.ts";
import { logger } from "../log.ts";
import { bindAddresses, isLoopback, listenAll } from "./listen.ts";
import { closeQuietly, pump } from "./pump.ts";
import type { Activity, ChannelOpener, Tunnel } from "./types.ts";

const log = logger("tunnel");

export class LocalTunnel implements Tunnel {
  readonly spec: ForwardSpec;
  #gateway: boolean;
  #open: ChannelOpener;
  #activity: Activity;
  #listeners: Deno.TcpListener[] = [];
  #conns = new Set<Deno.Conn>();
  #tasks = new Set<Promise<void>>();
  #closed = false;

  constructor(
    spec: ForwardSpec,
    gateway: boolean,
    open: ChannelOpener,
    activity: Activity,
  ) {
    this.spec = spec;
    this.#gateway = gateway;
    this.#open = open;
    this.#activity = activity;
  }

  get description(): string {
    const addrs = this.#listeners.length > 0
      ? this.#listeners.map((l) => hostPort(l.addr.hostname, l.addr.port)).join(
        ", ",
      )
      : hostPort(this.spec.listenAddress ?? "127.0.0.1", this.spec.listenPort);
    return `-L ${addrs} -> ${hostPort(this.spec.dstHost!, this.spec.dstPort!)}`;
  }

  /** The bound addresses (after start). */
  get addresses(): Deno.NetAddr[] {
    return this.#listeners.map((l) => l.addr);
  }

  // deno-lint-ignore require-await
  async start(): Promise<void> {
    const addrs = bindAddresses(this.spec.listenAddress, this.#gateway);
    this.#listeners = listenAll(addrs, this.spec.listenPort);
    for (const l of this.#listeners) this.#track(this.#acceptLoop(l));
    log.info("Local tunnel {desc}", { desc: this.description });
    if (this.#listeners.some((l) => !isLoopback(l.addr.hostname))) {
      log.warn("{desc} accepts connections from other hosts", {
        desc: this.description,
      });
    }
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  async #acceptLoop(listener: Deno.TcpListener): Promise<void> {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (this.#closed) return;
        if (err instanceof Deno.errors.BadResource) return;
        log.warn("Accept failed on {addr}: {err}", {
          addr: hostPort(listener.addr.hostname, listener.addr.port),
          err: messageOf(err),
        });
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      if (this.#closed) {
        closeQuietly(conn);
        return;
      }
      this.#track(this.#serve(conn));
    }
  }

  async #serve(conn: Deno.TcpConn): Promise<void> {
    this.#conns.add(conn);
    this.#activity.opened();
    const started = performance.now();
    const peer = conn.remoteAddr as Deno.NetAddr;
    const dst = hostPort(this.spec.dstHost!, this.spec.dstPort!);
    try {
      conn.setNoDelay(true);
      let channel;
      try {
        channel = await this.#open(
          peer.hostname,
          peer.port,
          this.spec.dstHost!,
          this.spec.dstPort!,
        );
      } catch (err) {
        log.error("{from} -> {dst}: {err}", {
          from: hostPort(peer.hostname, peer.port),
          dst,
          err: messageOf(err),
        });
        closeQuietly(conn);
        return;
      }
      if (this.#closed) {
        channel.destroy();
        closeQuietly(conn);
        return;
      }
      const r = await pump(conn, channel);
      log.debug(
        "{from} -> {dst} closed: {sent} bytes sent, {received} received, {ms} ms{err}",
        {
          from: hostPort(peer.hostname, peer.port),
          dst,
          sent: r.sent,
          received: r.received,
          ms: Math.round(performance.now() - started),
          err: r.error ? ` (${messageOf(r.error)})` : "",
        },
      );
    } finally {
      this.#conns.delete(conn);
      this.#activity.closed();
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const l of this.#listeners) closeQuietly(l);
    for (const c of this.#conns) closeQuietly(c);
    await Promise.allSettled([...this.#tasks]);
  }
}
