/**
 * A reverse proxy tunnel (-R socks/[listen-address:]listen-port): the SSH
 * server listens (tcpip-forward, as for -R), and each connection it accepts
 * arrives here as a forwarded-tcpip channel that speaks SOCKS4, SOCKS4a,
 * SOCKS5 or HTTP proxy to warren (the same handshake as -L socks/). warren
 * connects the requested destination from this machine, names resolved
 * here. This is OpenSSH's `ssh -R PORT` without a destination, and chisel's
 * `R:socks`.
 *
 * - --proxy-auth applies as for -L socks/.
 * - --route applies: `block` refuses with the protocol's "not allowed"
 *   reply; `direct` and `tunnel` both connect from here (this end is the
 *   tunnel's far end). No matching rule: from here.
 * - The handshake has HANDSHAKE_TIMEOUT_MS, as for -L socks/.
 * - Port 0 lets the server choose; the chosen port is logged.
 */
import type { ForwardSpec } from "../../config/forward.ts";
import { hostPort } from "../../config/forward.ts";
import { messageOf } from "../../errors.ts";
import { LogGate, logger } from "../../log.ts";
import { classifyOpenFailure, OPEN_CONNECT_FAILED } from "../../protocols/open_failure.ts";
import type { TcpConnectionDetails } from "../../ssh/ssh2.ts";
import { matchRoute } from "../../config/routes.ts";
import { closeQuietly, writeAll } from "../../net/io.ts";
import { Deadlines } from "../../net/deadlines.ts";
import { ChannelConn } from "../channel_conn.ts";
import { ConnectionSet, logClosed } from "../connections.ts";
import { pump } from "../pump.ts";
import { dial, logRemoteListening, remoteBindAddress, type RemoteForwarder } from "../remote.ts";
import type { Activity, Tunnel } from "../types.ts";
import { HANDSHAKE_TIMEOUT_MS, linger, type ProxyOptions, timedHandshake } from "./tunnel.ts";

const log = logger("tunnel");

export type RemoteProxyOptions = Pick<
  ProxyOptions,
  "credentials" | "handshakeTimeoutMs" | "routes"
>;

export class RemoteProxyTunnel implements Tunnel {
  readonly spec: ForwardSpec;
  #ssh: RemoteForwarder;
  #options: RemoteProxyOptions;
  #bindAddress: string;
  #boundPort: number | undefined;
  #conns: ConnectionSet;
  /** Failures a client causes: one line per client and kind per interval. */
  #gate = new LogGate();
  /** How long a client has for its request, and each client's deadline (one timer for all). */
  readonly #handshakeMs: number;
  readonly #deadlines: Deadlines;

  constructor(
    spec: ForwardSpec,
    ssh: RemoteForwarder,
    activity: Activity,
    options: RemoteProxyOptions = {},
  ) {
    this.spec = spec;
    this.#ssh = ssh;
    this.#options = options;
    this.#conns = new ConnectionSet(activity);
    this.#bindAddress = remoteBindAddress(spec);
    this.#handshakeMs = options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS;
    this.#deadlines = new Deadlines(this.#handshakeMs);
  }

  get description(): string {
    const port = this.#boundPort ?? this.spec.listenPort;
    return `-R socks/${
      hostPort(this.#bindAddress || "*", port)
    } (on the server; SOCKS4/4a/5, HTTP proxy, connected from here)`;
  }

  /** The port the server bound (after start). */
  get boundPort(): number | undefined {
    return this.#boundPort;
  }

  async start(): Promise<void> {
    this.#boundPort = await this.#ssh.forwardIn(
      this.#bindAddress,
      this.spec.listenPort,
      (details, accept, reject) => {
        if (this.#conns.closed) return reject();
        const channel = accept();
        const conn = new ChannelConn(channel);
        this.#conns.serve(conn, () => this.#serve(conn, details));
      },
    );
    const auth = this.#options.credentials ? ` for user ${this.#options.credentials.user}` : "";
    logRemoteListening(
      "Remote proxy tunnel",
      this.description,
      this.spec.listenPort,
      this.#boundPort,
      auth,
    );
    for (const r of this.#options.routes ?? []) {
      log.debug("Proxy route: {rule}", { rule: r.text });
    }
  }

  async #serve(conn: ChannelConn, details: TcpConnectionDetails): Promise<void> {
    const started = performance.now();
    const from = `${hostPort(details.srcIP, details.srcPort)} (on the server)`;
    const result = await timedHandshake(conn, {
      credentials: this.#options.credentials,
      bound: { host: details.destIP, port: details.destPort },
    }, {
      deadlines: this.#deadlines,
      ms: this.#handshakeMs,
      close: () => conn.close(),
      from,
      source: details.srcIP,
      gate: this.#gate,
    });
    if (!result.ok) return await linger(conn);
    const req = result.request;
    const route = matchRoute(this.#options.routes ?? [], req.host, req.port);
    const rule = route && (route.label ?? `--route ${route.text}`);
    const dst = `${hostPort(req.host, req.port)} (${req.protocol}${rule ? `, ${rule}` : ""})`;
    if (route?.action === "block") {
      // One kind per rule: a client refused by two rules gets a line for each.
      this.#gate.log(
        log,
        "warn",
        `blocked by ${rule}`,
        details.srcIP,
        "refused requests",
        "{from} -> {dst}: refused",
        { from, dst },
      );
      await writeAll(conn, req.failure("prohibited", `refused by ${rule}`)).catch(() => {});
      return await linger(conn);
    }
    let local: Deno.TcpConn;
    try {
      local = await dial(req.host, req.port);
    } catch (err) {
      const message = messageOf(err);
      this.#gate.log(
        log,
        "warn",
        "open failed",
        details.srcIP,
        "failed requests",
        "{from} -> {dst}: {err}",
        {
          from,
          dst,
          err: message,
        },
      );
      await writeAll(conn, req.failure(classifyOpenFailure(OPEN_CONNECT_FAILED, message), message))
        .catch(() => {});
      return await linger(conn);
    }
    if (this.#conns.closed) {
      closeQuietly(local);
      return conn.close();
    }
    try {
      if (req.success) await writeAll(conn, req.success);
    } catch (err) {
      log.debug("{from} -> {dst}: client went away: {err}", { from, dst, err: messageOf(err) });
      closeQuietly(local);
      return conn.close();
    }
    const { pending, ended } = conn.detach();
    const channel = conn.channel;
    try {
      // In order: what the handshake read past the request, then what the channel holds.
      await writeAll(local, req.initial);
      for (const chunk of pending) await writeAll(local, chunk);
    } catch (err) {
      log.warn("{from} -> {dst}: {err}", { from, dst, err: messageOf(err) });
      channel.destroy();
      return closeQuietly(local);
    }
    if (channel.destroyed) return closeQuietly(local);
    const early = req.initial.length + pending.reduce((n, c) => n + c.length, 0);
    const pumping = pump(local, channel);
    if (!ended) channel.resume();
    const r = await pumping;
    // pump() counts from the local side; the client is on the channel side.
    logClosed(from, dst, { sent: r.received + early, received: r.sent, error: r.error }, started);
  }

  async close(): Promise<void> {
    if (this.#conns.closed) return;
    const closing = this.#conns.close();
    if (this.#boundPort !== undefined) {
      await this.#ssh.unforwardIn(this.#bindAddress, this.#boundPort);
    }
    await closing;
    this.#deadlines.clear();
    this.#gate.close();
  }
}
