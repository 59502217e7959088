/**
 * A remote tunnel (-R): the SSH server listens (tcpip-forward) and each
 * connection it accepts arrives here as a forwarded-tcpip channel, which
 * warren connects to dst-host:dst-port on this side.
 *
 * The default listen address is "localhost" (as OpenSSH sends it: the server
 * binds its loopback); `*` asks for every interface, which the server grants
 * only with GatewayPorts. Port 0 lets the server choose; the chosen port is
 * logged.
 */
import type { ForwardSpec } from "../config/forward.ts";
import { hostPort } from "../config/forward.ts";
import { messageOf } from "../errors.ts";
import { LogGate, logger } from "../log.ts";
import type { SshConnection } from "../ssh/connection.ts";
import type { ClientChannel, TcpConnectionDetails } from "../ssh/ssh2.ts";
import { pump } from "./pump.ts";
import { closeQuietly } from "../net/io.ts";
import type { Activity, Tunnel } from "./types.ts";
import { ConnectionSet, logClosed } from "./connections.ts";

const log = logger("tunnel");

/** What a remote tunnel needs of the connection (the broker passes its own). */
export type RemoteForwarder = Pick<SshConnection, "forwardIn" | "unforwardIn">;

/** The bind address sent to the server for a spec. */
export function remoteBindAddress(spec: ForwardSpec): string {
  if (spec.listenAddress === undefined) return "localhost";
  return spec.listenAddress === "*" ? "" : spec.listenAddress;
}

/** Connect to a destination here; "localhost" tries IPv4 then IPv6. */
export async function dial(host: string, port: number): Promise<Deno.TcpConn> {
  const candidates = host === "localhost" ? ["127.0.0.1", "::1"] : [host];
  let lastErr: unknown;
  for (const hostname of candidates) {
    try {
      const conn = await Deno.connect({ hostname, port, transport: "tcp" });
      conn.setNoDelay(true);
      return conn;
    } catch (err) {
      lastErr = err;
    }
  }
  throw lastErr;
}

/**
 * The line a remote tunnel logs once the server listens: with the port the
 * server picked when port 0 was asked for. `what` is "Remote tunnel" or the
 * like; `extra` follows the description.
 */
export function logRemoteListening(
  what: string,
  desc: string,
  requestedPort: number | undefined,
  boundPort: number | undefined,
  extra = "",
): void {
  if (requestedPort === 0) {
    log.info("{what} {desc}{extra}: the server assigned port {port}", {
      what,
      desc,
      extra,
      port: boundPort,
    });
  } else log.info("{what} {desc}{extra}", { what, desc, extra });
}

export class RemoteTunnel implements Tunnel {
  readonly spec: ForwardSpec;
  #ssh: RemoteForwarder;
  #bindAddress: string;
  #boundPort: number | undefined;
  #conns: ConnectionSet;
  /** Failed connects, which whoever reaches the server's port can cause. */
  #gate = new LogGate();

  constructor(spec: ForwardSpec, ssh: RemoteForwarder, activity: Activity) {
    this.spec = spec;
    this.#ssh = ssh;
    this.#conns = new ConnectionSet(activity);
    this.#bindAddress = remoteBindAddress(spec);
  }

  get description(): string {
    const port = this.#boundPort ?? this.spec.listenPort;
    return `-R ${hostPort(this.#bindAddress || "*", port)} (on the server) -> ${
      hostPort(this.spec.dstHost!, this.spec.dstPort!)
    }`;
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
        this.#conns.track(this.#serve(details, accept, reject));
      },
    );
    logRemoteListening("Remote tunnel", this.description, this.spec.listenPort, this.#boundPort);
  }

  async #serve(
    details: TcpConnectionDetails,
    accept: () => ClientChannel,
    reject: () => void,
  ): Promise<void> {
    const from = hostPort(details.srcIP, details.srcPort);
    const dst = hostPort(this.spec.dstHost!, this.spec.dstPort!);
    if (this.#conns.closed) return reject();
    let conn: Deno.TcpConn;
    try {
      conn = await dial(this.spec.dstHost!, this.spec.dstPort!);
    } catch (err) {
      reject();
      this.#gate.log(
        log,
        "error",
        "connect failed",
        details.srcIP,
        "failed connections",
        "Remote tunnel {from} -> {dst}: cannot connect: {err}",
        { from, dst, err: messageOf(err) },
      );
      return;
    }
    if (this.#conns.closed) {
      reject();
      closeQuietly(conn);
      return;
    }
    const channel = accept();
    const started = performance.now();
    this.#conns.serve(conn, async () => {
      const r = await pump(conn, channel);
      // pump() counts from the local side; this tunnel's traffic flows the other way.
      logClosed(from, dst, { sent: r.received, received: r.sent, error: r.error }, started);
    });
  }

  async close(): Promise<void> {
    if (this.#conns.closed) return;
    const closing = this.#conns.close();
    if (this.#boundPort !== undefined) {
      await this.#ssh.unforwardIn(this.#bindAddress, this.#boundPort);
    }
    await closing;
    this.#gate.close();
  }
}
