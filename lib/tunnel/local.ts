/**
 * A local tunnel (-L): listen here, and for each accepted connection open a
 * direct-tcpip channel to dst-host:dst-port, which the SSH server resolves and
 * connects (so "localhost" is the server itself).
 */
import type { ForwardSpec } from "../config/forward.ts";
import { hostPort } from "../config/forward.ts";
import { messageOf } from "../errors.ts";
import { LogGate, logger } from "../log.ts";
import { bindAddresses, isLoopback, listenAll } from "./listen.ts";
import { pump } from "./pump.ts";
import { closeQuietly } from "../net/io.ts";
import { acceptLoop, ConnectionSet, logClosed } from "./connections.ts";
import type { Activity, ChannelOpener, Tunnel } from "./types.ts";

const log = logger("tunnel");

export class LocalTunnel implements Tunnel {
  readonly spec: ForwardSpec;
  #gateway: boolean;
  #open: ChannelOpener;
  #listeners: Deno.TcpListener[] = [];
  #conns: ConnectionSet;
  /** Refused channels, which any client can cause: one line per client per interval. */
  #gate = new LogGate();

  constructor(
    spec: ForwardSpec,
    gateway: boolean,
    open: ChannelOpener,
    activity: Activity,
  ) {
    this.spec = spec;
    this.#gateway = gateway;
    this.#open = open;
    this.#conns = new ConnectionSet(activity);
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
    for (const l of this.#listeners) {
      this.#conns.track(
        acceptLoop(l, this.#conns, (c) => this.#conns.serve(c, () => this.#serve(c))),
      );
    }
    log.info("Local tunnel {desc}", { desc: this.description });
    if (this.#listeners.some((l) => !isLoopback(l.addr.hostname))) {
      log.warn("{desc} accepts connections from other hosts", {
        desc: this.description,
      });
    }
  }

  async #serve(conn: Deno.TcpConn): Promise<void> {
    const started = performance.now();
    const peer = conn.remoteAddr as Deno.NetAddr;
    const from = hostPort(peer.hostname, peer.port);
    const dst = hostPort(this.spec.dstHost!, this.spec.dstPort!);
    conn.setNoDelay(true);
    let channel;
    try {
      channel = await this.#open(peer.hostname, peer.port, this.spec.dstHost!, this.spec.dstPort!);
    } catch (err) {
      this.#gate.log(
        log,
        "error",
        "open failed",
        peer.hostname,
        "failed connections",
        "{from} -> {dst}: {err}",
        {
          from,
          dst,
          err: messageOf(err),
        },
      );
      closeQuietly(conn);
      return;
    }
    if (this.#conns.closed) {
      channel.destroy();
      closeQuietly(conn);
      return;
    }
    logClosed(from, dst, await pump(conn, channel), started);
  }

  async close(): Promise<void> {
    if (this.#conns.closed) return;
    for (const l of this.#listeners) closeQuietly(l);
    await this.#conns.close();
    this.#gate.close();
  }
}
