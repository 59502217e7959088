/**
 * A proxy tunnel (-L socks/[listen-address:]listen-port): one local port
 * that speaks SOCKS4, SOCKS4a, SOCKS5 and HTTP proxy (CONNECT and absolute
 * URIs). Each accepted connection runs the handshake (handshake.ts),
 * opens a direct-tcpip channel to the requested destination — host names go
 * to the SSH server unresolved — sends the protocol's reply and then pumps.
 *
 * - Listener rules as for -L: loopback by default, -g or an address to open
 *   it wider; wider without --proxy-auth logs a warning.
 * - A client has HANDSHAKE_TIMEOUT_MS (10 s) to finish its request; idle and
 *   slow clients are dropped.
 * - Failures get the protocol's reply, mapped from the server's reason
 *   (open_failure.ts); nothing a client sends can throw out of here.
 * - Routing rules (lib/config/routes.ts) may send a destination directly from this
 *   machine instead of through SSH, or refuse it; without a matching rule
 *   it goes through SSH.
 */
import type { ForwardSpec } from "../../config/forward.ts";
import { hostPort } from "../../config/forward.ts";
import { messageOf } from "../../errors.ts";
import { LogGate, logger } from "../../log.ts";
import { classifyOpenFailure, OPEN_CONNECT_FAILED } from "../../protocols/open_failure.ts";
import { DenoSocket } from "../../ssh/transport.ts";
import { bindAddresses, isLoopback, listenAll } from "../listen.ts";
import type { ProxyCredentials } from "./auth.ts";
import {
  handshake,
  type HandshakeOptions,
  type HandshakeResult,
  type ProxyClientConn,
} from "./handshake.ts";
import { pump } from "../pump.ts";
import { closeQuietly, writeAll } from "../../net/io.ts";
import { Deadlines } from "../../net/deadlines.ts";
import { acceptLoop, ConnectionSet, logClosed } from "../connections.ts";
import { dial } from "../remote.ts";
import { matchRoute, type Route } from "../../config/routes.ts";
import { proxyPac } from "../../config/pac.ts";
import { pacProxyAddress } from "../../protocols/pac_request.ts";
import type { Activity, ChannelOpener, Tunnel } from "../types.ts";

const log = logger("tunnel");

export const HANDSHAKE_TIMEOUT_MS = 10_000;
/** How long a refused client may take to read our reply before we close. */
const LINGER_MS = 1_000;

export interface ProxyOptions {
  /** -g: listen on every interface when no address is given. */
  gateway?: boolean;
  /** --proxy-auth: require this user and password (loaded before connecting). */
  credentials?: ProxyCredentials;
  /** The handshake deadline (tests shorten it). */
  handshakeTimeoutMs?: number;
  /** --route: which destinations go direct or are refused; first match wins. */
  routes?: Route[];
  /** What a request no route matches gets (default tunnel; the broker's filtered proxy: block). */
  unmatched?: "tunnel" | "block";
  /** Opens channels through a named profile's connection, for routes that name one. */
  openVia?: (profile: string) => ChannelOpener;
}

export class ProxyTunnel implements Tunnel {
  readonly spec: ForwardSpec;
  #options: ProxyOptions;
  #open: ChannelOpener;
  #listeners: Deno.TcpListener[] = [];
  #conns: ConnectionSet;
  /** Failures a client causes: one line per client and kind per interval. */
  #gate = new LogGate();
  /** How long a client has for its request, and each client's deadline (one timer for all). */
  readonly #handshakeMs: number;
  readonly #deadlines: Deadlines;

  constructor(
    spec: ForwardSpec,
    open: ChannelOpener,
    activity: Activity,
    options: ProxyOptions = {},
  ) {
    this.spec = spec;
    this.#options = options;
    this.#open = open;
    this.#conns = new ConnectionSet(activity);
    this.#handshakeMs = options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS;
    this.#deadlines = new Deadlines(this.#handshakeMs);
  }

  get description(): string {
    const addrs = this.#listeners.length > 0
      ? this.#listeners.map((l) => hostPort(l.addr.hostname, l.addr.port)).join(", ")
      : hostPort(this.spec.listenAddress ?? "127.0.0.1", this.spec.listenPort);
    return `-L socks/${addrs} (SOCKS4/4a/5, HTTP proxy)`;
  }

  /** The bound addresses (after start). */
  get addresses(): Deno.NetAddr[] {
    return this.#listeners.map((l) => l.addr);
  }

  // deno-lint-ignore require-await -- async so that a bind failure is a rejection, as for every tunnel
  async start(): Promise<void> {
    const addrs = bindAddresses(this.spec.listenAddress, this.#options.gateway ?? false);
    this.#listeners = listenAll(addrs, this.spec.listenPort);
    for (const l of this.#listeners) {
      this.#conns.track(
        acceptLoop(l, this.#conns, (c) => this.#conns.serve(c, () => this.#serve(c))),
      );
    }
    const auth = this.#options.credentials ? ` for user ${this.#options.credentials.user}` : "";
    log.info("Proxy tunnel {desc}{auth}", { desc: this.description, auth });
    if (this.#listeners.some((l) => !isLoopback(l.addr.hostname)) && !this.#options.credentials) {
      const direct = this.#options.routes?.some((r) => r.action === "direct");
      log.warn(
        "{desc} accepts connections from other hosts without authentication " +
          "(use --proxy-auth){relay}",
        {
          desc: this.description,
          relay: direct ? "; its direct routes relay them from this machine" : "",
        },
      );
    }
    for (const r of this.#options.routes ?? []) {
      log.debug("Proxy route: {rule}", { rule: r.text });
    }
  }

  async #serve(conn: Deno.TcpConn): Promise<void> {
    const started = performance.now();
    const peer = conn.remoteAddr;
    const from = hostPort(peer.hostname, peer.port);
    conn.setNoDelay(true);
    const result = await this.#handshake(conn, conn.localAddr, from);
    if (!result.ok) return await linger(conn);
    const req = result.request;
    const route = matchRoute(this.#options.routes ?? [], req.host, req.port);
    const action = route?.action ?? this.#options.unmatched ?? "tunnel";
    const direct = action === "direct";
    const rule = route && (route.label ?? `--route ${route.text}`);
    const by = rule ? `, ${rule}` : action === "block" ? ", no rule matches" : "";
    const dst = `${hostPort(req.host, req.port)} (${req.protocol}${by})`;
    if (action === "block") {
      // One kind per rule: a client refused by two rules gets a line for each.
      this.#gate.log(
        log,
        "warn",
        `blocked by ${rule ?? "no rule"}`,
        peer.hostname,
        "refused requests",
        "{from} -> {dst}: refused",
        { from, dst },
      );
      const message = rule ? `refused by ${rule}` : "refused: no rule of the proxy matches";
      await writeAll(conn, req.failure("prohibited", message)).catch(() => {});
      return await linger(conn);
    }
    const open = route?.profile !== undefined && this.#options.openVia
      ? this.#options.openVia(route.profile)
      : this.#open;
    let channel;
    try {
      channel = direct
        ? new DenoSocket(await dial(req.host, req.port))
        : await open(peer.hostname, peer.port, req.host, req.port);
    } catch (err) {
      const message = messageOf(err);
      this.#gate.log(
        log,
        "warn",
        "open failed",
        peer.hostname,
        "failed requests",
        "{from} -> {dst}: {err}",
        {
          from,
          dst,
          err: message,
        },
      );
      const why = classifyOpenFailure(direct ? OPEN_CONNECT_FAILED : reasonOf(err), message);
      await writeAll(conn, req.failure(why, message)).catch(() => {});
      return await linger(conn);
    }
    if (this.#conns.closed) {
      channel.destroy();
      return closeQuietly(conn);
    }
    try {
      if (req.success) await writeAll(conn, req.success);
    } catch (err) {
      log.debug("{from} -> {dst}: client went away: {err}", { from, dst, err: messageOf(err) });
      channel.destroy();
      return closeQuietly(conn);
    }
    if (req.initial.length > 0) channel.write(req.initial);
    const r = await pump(conn, channel);
    logClosed(from, dst, { ...r, sent: r.sent + req.initial.length }, started);
  }

  /**
   * The handshake under its deadline. A failure gets one log line: a warning
   * (the client sent something that could not be served, or too slowly), or
   * a debug line when it sent nothing at all.
   */
  #handshake(conn: Deno.TcpConn, local: Deno.NetAddr, from: string): Promise<HandshakeResult> {
    return timedHandshake(conn, {
      credentials: this.#options.credentials,
      bound: { host: local.hostname, port: local.port },
      pac: (host) => this.pac(pacProxyAddress(host, hostPort(local.hostname, local.port))),
    }, {
      deadlines: this.#deadlines,
      ms: this.#handshakeMs,
      close: () => closeQuietly(conn),
      from,
      source: (conn.remoteAddr as Deno.NetAddr).hostname,
      gate: this.#gate,
    });
  }

  /** The PAC file for this proxy's routes, naming `proxy` (host:port) as the proxy. */
  pac(proxy: string): string {
    return proxyPac(this.#options.routes ?? [], this.#options.unmatched ?? "tunnel", proxy);
  }

  async close(): Promise<void> {
    if (this.#conns.closed) return;
    for (const l of this.#listeners) closeQuietly(l);
    await this.#conns.close();
    this.#deadlines.clear();
    this.#gate.close();
  }
}

/** The server's numeric reason for a refused channel, from the cause chain. */
export function reasonOf(err: unknown): number | undefined {
  for (let cur = err, depth = 0; cur instanceof Error && depth < 8; depth++) {
    const reason = (cur as { reason?: unknown }).reason;
    if (typeof reason === "number") return reason;
    cur = cur.cause;
  }
  return undefined;
}

/**
 * A proxy client's handshake under its deadline (closed at `ms` by
 * `deadlines`: `close`), for the local and the reverse proxy tunnel. A
 * failure gets one log line: a warning (the client sent something that
 * could not be served, or too slowly), gated per client address (`source`),
 * or a debug line when it sent nothing at all or was served (a PAC file).
 */
export async function timedHandshake(
  conn: ProxyClientConn,
  options: HandshakeOptions,
  guard: {
    deadlines: Deadlines;
    ms: number;
    close: () => void;
    from: string;
    source: string;
    gate: LogGate;
  },
): Promise<HandshakeResult> {
  let timedOut = false;
  const done = guard.deadlines.add(() => {
    timedOut = true;
    guard.close();
  });
  const result = await handshake(conn, options).finally(done);
  const from = guard.from;
  if (!result.ok && result.served) {
    log.debug("{from}: {what}", { from, what: result.message });
  } else if (!result.ok) {
    if (timedOut) result.message = `no complete request within ${guard.ms / 1000} s`;
    const line = "{from}: proxy request failed: {why}";
    const props = { from, why: result.message };
    if (result.quiet) log.debug(line, props);
    else {
      // Authentication failures (a handful of messages) are told apart; the rest is one kind.
      guard.gate.log(
        log,
        "warn",
        result.auth ? `auth: ${result.message}` : "handshake",
        guard.source,
        "failed proxy requests",
        line,
        props,
      );
    }
  }
  return result;
}

/**
 * Close after a refusal without losing the reply: half-close, then read and
 * discard until the client closes or LINGER_MS passes. Closing with unread
 * input would reset the connection and could drop the reply on the way.
 */
export async function linger(
  conn: Pick<Deno.Conn, "read" | "closeWrite" | "close">,
): Promise<void> {
  const timer = setTimeout(() => closeQuietly(conn), LINGER_MS);
  try {
    await conn.closeWrite();
    const buf = new Uint8Array(16 * 1024);
    while (await conn.read(buf) !== null) { /* discard */ }
  } catch {
    // Closed by the timer or the client.
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
  }
}
