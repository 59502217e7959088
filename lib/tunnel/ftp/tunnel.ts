/**
 * FTP tunnels (`-L ftp/...`, `-R ftp/...`): the control connection goes
 * through SSH like a plain tunnel, watched by the rewriters, and each data
 * connection gets its own one-use tunnel (data.ts).
 *
 *   -L ftp/2121:localhost:21   FTP client here, FTP server beside sshd
 *     passive (227/229): listener here on the address the client used for
 *       the control connection (127.0.0.1 for a 227 if that was IPv6), its
 *       connection opened through SSH to the control's dst-host, whatever
 *       address a 227 names (--ftp-trust-pasv-address: to that address).
 *     active (PORT/EPRT): remote forward on the SSH server's loopback
 *       (127.0.0.1; ::1 for EPRT when dst-host is IPv6), its connection
 *       dialed here to the client's own data listener.
 *
 *   -R ftp/2121:localhost:21   FTP client beside sshd, FTP server here
 *     passive: remote forward on the SSH server on the -R bind address
 *       (for a 227 and an IPv6 bind address: 127.0.0.1; a 227 for a
 *       wildcard or "localhost" names 127.0.0.1), dialed here to the
 *       address the control connection reached, whatever a 227 names
 *       (--ftp-trust-pasv-address: to that address).
 *     active: listener here on our side of the control connection to the
 *       FTP server, carried through SSH to the client's data listener.
 *
 * Data entries accept only the control connection's own peer where it can be
 * known, serve one connection, and go after it, after 30 s unused, or when
 * their control connection ends. `dataStats` counts what is live.
 */
import type { ForwardSpec } from "../../config/forward.ts";
import { hostPort } from "../../config/forward.ts";
import { messageOf } from "../../errors.ts";
import { logger } from "../../log.ts";
import { canonicalIp, isIpv4, isIpv6 } from "../../protocols/ftp_parse.ts";
import type { ClientChannel, TcpConnectionDetails } from "../../ssh/ssh2.ts";
import {
  type DataEntry,
  DataHub,
  type DataStats,
  type FtpSsh,
  openLocalEntry,
  samePeer,
} from "./data.ts";
import { openRemoteEntry } from "./data_remote.ts";
import { type DataRoutes, FtpSession } from "./session.ts";
import { channelStream, connStream } from "./stream.ts";
import { acceptLoop, ConnectionSet } from "../connections.ts";
import { bindAddresses, isLoopback, listenAll } from "../listen.ts";
import { closeQuietly, writeAll } from "../../net/io.ts";
import { dial, remoteBindAddress } from "../remote.ts";
import type { Activity, Tunnel } from "../types.ts";

const log = logger("tunnel", "ftp");

export interface FtpTunnelOptions {
  /** How long an unused data entry waits (default 30 s; tests shorten it). */
  dataIdleMs?: number;
  /**
   * --ftp-trust-pasv-address: connect passive data connections to the address
   * a 227 names; by default they go to the control connection's destination.
   */
  trustPasvAddress?: boolean;
}

export type FtpStats = DataStats & { sessions: number };

/**
 * The local listener for a data connection from `peer`, which reached us at
 * `local`: on that address, so the peer can reach it. A 227 reply or a PORT
 * command can name IPv4 only: a peer on ::1 is given 127.0.0.1 (loopback
 * counts as one peer, data.ts); any other IPv6 peer cannot be served
 * that way (it gets a 425; EPSV and EPRT work).
 */
export function dataListener(
  local: string,
  peer: string,
  needIpv4: boolean,
): { hostname: string; allowedPeer: string } {
  const c = canonicalIp(local);
  if (isIpv4(c)) return { hostname: c, allowedPeer: peer };
  if (!needIpv4) return { hostname: local, allowedPeer: peer };
  if (samePeer(peer, "::1")) return { hostname: "127.0.0.1", allowedPeer: peer };
  throw new Error(
    `the peer ${peer} uses IPv6, which a PASV reply or PORT command cannot name (use EPSV or EPRT)`,
  );
}

/** What both FTP tunnels share: control connections, sessions, data entries. */
abstract class FtpTunnelBase implements Tunnel {
  readonly spec: ForwardSpec;
  protected ssh: FtpSsh;
  protected hub: DataHub;
  protected trustPasvAddress: boolean;
  /** The control connections on this side (the FTP client's or the server's). */
  protected conns: ConnectionSet;
  #sessions = new Set<FtpSession>();

  constructor(spec: ForwardSpec, ssh: FtpSsh, activity: Activity, options: FtpTunnelOptions) {
    this.spec = spec;
    this.ssh = ssh;
    this.conns = new ConnectionSet(activity);
    this.hub = new DataHub(options.dataIdleMs);
    this.trustPasvAddress = options.trustPasvAddress ?? false;
  }

  abstract get description(): string;
  abstract start(): Promise<void>;

  /** Live control sessions and data entries. */
  get dataStats(): FtpStats {
    return { ...this.hub.stats, sessions: this.#sessions.size };
  }

  protected async runSession(session: FtpSession, label: string): Promise<void> {
    this.#sessions.add(session);
    log.debug("{label}: FTP control connection opened", { label });
    try {
      if (this.conns.closed) session.abort();
      await session.run();
    } finally {
      this.#sessions.delete(session);
      log.debug("{label}: FTP control connection closed", { label });
    }
  }

  protected dst(): string {
    return hostPort(this.spec.dstHost!, this.spec.dstPort!);
  }

  protected abstract stopListening(): Promise<void>;

  async close(): Promise<void> {
    if (this.conns.closed) return;
    const closing = this.conns.close();
    for (const s of this.#sessions) s.abort();
    await this.stopListening();
    await this.hub.close();
    await closing;
  }
}

export class FtpLocalTunnel extends FtpTunnelBase {
  #gateway: boolean;
  #listeners: Deno.TcpListener[] = [];

  constructor(
    spec: ForwardSpec,
    gateway: boolean,
    ssh: FtpSsh,
    activity: Activity,
    options: FtpTunnelOptions = {},
  ) {
    super(spec, ssh, activity, options);
    this.#gateway = gateway;
  }

  get description(): string {
    const addrs = this.#listeners.length > 0
      ? this.#listeners.map((l) => hostPort(l.addr.hostname, l.addr.port)).join(", ")
      : hostPort(this.spec.listenAddress ?? "127.0.0.1", this.spec.listenPort);
    return `-L ftp/${addrs} -> ${this.dst()}`;
  }

  get addresses(): Deno.NetAddr[] {
    return this.#listeners.map((l) => l.addr);
  }

  start(): Promise<void> {
    const addrs = bindAddresses(this.spec.listenAddress, this.#gateway);
    this.#listeners = listenAll(addrs, this.spec.listenPort);
    for (const l of this.#listeners) {
      this.conns.track(
        acceptLoop(l, this.conns, (c) => this.conns.serve(c, () => this.#serve(c))),
      );
    }
    log.info("FTP tunnel {desc}", { desc: this.description });
    if (this.#listeners.some((l) => !isLoopback(l.addr.hostname))) {
      log.warn("{desc} accepts connections from other hosts", { desc: this.description });
    }
    return Promise.resolve();
  }

  protected stopListening(): Promise<void> {
    for (const l of this.#listeners) closeQuietly(l);
    return Promise.resolve();
  }

  async #serve(conn: Deno.TcpConn): Promise<void> {
    const peer = conn.remoteAddr;
    const label = `${hostPort(peer.hostname, peer.port)} -> ${this.dst()}`;
    conn.setNoDelay(true);
    let channel: ClientChannel;
    try {
      channel = await this.ssh.openDirect(
        peer.hostname,
        peer.port,
        this.spec.dstHost!,
        this.spec.dstPort!,
      );
    } catch (err) {
      this.hub.gate.log(
        log,
        "error",
        "control",
        peer.hostname,
        "failed control connections",
        "{label}: {err}",
        {
          label,
          err: messageOf(err),
        },
      );
      const reply = `421 Service not available: ${messageOf(err).replace(/[\r\n]/g, " ")}\r\n`;
      await writeAll(conn, new TextEncoder().encode(reply)).catch(() => {});
      return closeQuietly(conn);
    }
    if (this.conns.closed) {
      channel.destroy();
      return closeQuietly(conn);
    }
    const dstHost = this.spec.dstHost!;
    const routes: DataRoutes = {
      passive: (target, extended) =>
        Promise.resolve(openLocalEntry(this.hub, {
          ...dataListener(conn.localAddr.hostname, peer.hostname, !extended),
          label: `${label} data (passive ${hostPort(target.host, target.port)})`,
          connect: (p) => this.ssh.openDirect(p.hostname, p.port, target.host, target.port),
        })),
      active: (target, verb): Promise<DataEntry> =>
        openRemoteEntry(this.hub, this.ssh, {
          bind: verb === "EPRT" && isIpv6(dstHost) ? "::1" : "127.0.0.1",
          label: `${label} data (active ${hostPort(target.host, target.port)})`,
          dial: () => dial(target.host, target.port),
        }),
    };
    const session = new FtpSession(connStream(conn), channelStream(channel), routes, {
      clientAddress: peer.hostname,
      serverHost: dstHost,
      trustPasvAddress: this.trustPasvAddress,
      label,
      gate: this.hub.gate,
    });
    await this.runSession(session, label);
  }
}

export class FtpRemoteTunnel extends FtpTunnelBase {
  #bindAddress: string;
  #boundPort: number | undefined;

  constructor(spec: ForwardSpec, ssh: FtpSsh, activity: Activity, options: FtpTunnelOptions = {}) {
    super(spec, ssh, activity, options);
    this.#bindAddress = remoteBindAddress(spec);
  }

  get description(): string {
    const port = this.#boundPort ?? this.spec.listenPort;
    return `-R ftp/${hostPort(this.#bindAddress || "*", port)} (on the server) -> ${this.dst()}`;
  }

  get boundPort(): number | undefined {
    return this.#boundPort;
  }

  async start(): Promise<void> {
    this.#boundPort = await this.ssh.forwardIn(
      this.#bindAddress,
      this.spec.listenPort,
      (details, accept, reject) => this.conns.track(this.#serve(details, accept, reject)),
    );
    log.info("FTP tunnel {desc}", { desc: this.description });
  }

  protected async stopListening(): Promise<void> {
    if (this.#boundPort !== undefined) {
      await this.ssh.unforwardIn(this.#bindAddress, this.#boundPort);
    }
  }

  async #serve(
    details: TcpConnectionDetails,
    accept: () => ClientChannel,
    reject: () => void,
  ): Promise<void> {
    const label = `${hostPort(details.srcIP, details.srcPort)} -> ${this.dst()}`;
    if (this.conns.closed) return reject();
    let conn: Deno.TcpConn;
    try {
      conn = await dial(this.spec.dstHost!, this.spec.dstPort!);
    } catch (err) {
      reject();
      this.hub.gate.log(
        log,
        "error",
        "control",
        details.srcIP,
        "failed control connections",
        "{label}: cannot connect: {err}",
        { label, err: messageOf(err) },
      );
      return;
    }
    if (this.conns.closed) {
      reject();
      return closeQuietly(conn);
    }
    const channel = accept();
    const bind = this.#bindAddress;
    const routes: DataRoutes = {
      passive: (target, extended) =>
        openRemoteEntry(this.hub, this.ssh, {
          // A 227 names IPv4: an IPv6 -R address gets a forward on 127.0.0.1.
          bind: extended || bind === "" || isIpv4(bind) ? bind : "127.0.0.1",
          allowedPeer: details.srcIP,
          label: `${label} data (passive ${hostPort(target.host, target.port)})`,
          dial: () => dial(target.host, target.port),
        }),
      active: (target, verb) =>
        Promise.resolve(openLocalEntry(this.hub, {
          ...dataListener(conn.localAddr.hostname, conn.remoteAddr.hostname, verb === "PORT"),
          label: `${label} data (active ${hostPort(target.host, target.port)})`,
          connect: (p) => this.ssh.openDirect(p.hostname, p.port, target.host, target.port),
        })),
    };
    const session = new FtpSession(channelStream(channel), connStream(conn), routes, {
      clientAddress: details.srcIP,
      // The address we reached the FTP server at: data goes there too.
      serverHost: conn.remoteAddr.hostname,
      trustPasvAddress: this.trustPasvAddress,
      label,
      gate: this.hub.gate,
    });
    this.conns.serve(conn, () => this.runSession(session, label));
  }
}
