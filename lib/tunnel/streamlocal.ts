/**
 * Tunnels with a Unix domain socket at either end, in OpenSSH's four forms:
 *
 *   -L /path/local.sock:host:port   listen on a socket here; direct-tcpip
 *   -L [addr:]port:/remote.sock     listen here; direct-streamlocal@openssh.com
 *   -R /remote.sock:host:port       streamlocal-forward@openssh.com; connect here
 *   -R [addr:]port:/local.sock      tcpip-forward; connect a socket here
 *
 * (and a path at both ends). A socket warren creates here has mode 0600
 * from the start (see listenUnix) and is removed when the tunnel closes. A path that exists already is an error,
 * unless it is a socket nobody listens on any more (a stale one, left by a
 * process that died): that one is replaced, as OpenSSH's StreamLocalBindUnlink
 * would, with a debug line. Where the platform has no Unix sockets the
 * command line refuses these forms (lib/cli/args.ts).
 */
import { type ForwardSpec, MAX_SOCKET_PATH } from "../config/forward.ts";
import { hostPort } from "../config/forward.ts";
import { messageOf, WarrenError } from "../errors.ts";
import { LogGate, logger } from "../log.ts";
import type { SshConnection } from "../ssh/connection.ts";
import type { ClientChannel } from "../ssh/ssh2.ts";
import { closeQuietly } from "../net/io.ts";
import { acceptLoop, ConnectionSet, logClosed } from "./connections.ts";
import { bindAddresses, isLoopback, listenAll } from "./listen.ts";
import { pump } from "./pump.ts";
import { dial, logRemoteListening, remoteBindAddress } from "./remote.ts";
import type { Activity, Tunnel } from "./types.ts";

const log = logger("tunnel");

/** What these tunnels need of the SSH connection. */
export type StreamLocalSsh = Pick<
  SshConnection,
  | "openDirect"
  | "openStreamLocal"
  | "forwardIn"
  | "unforwardIn"
  | "forwardInStreamLocal"
  | "unforwardInStreamLocal"
>;

/** Whether a spec has a Unix socket at either end. */
export function isStreamLocal(spec: ForwardSpec): boolean {
  return spec.listenPath !== undefined || spec.dstPath !== undefined;
}

/** The spec's destination, for messages. */
function destination(spec: ForwardSpec): string {
  return spec.dstPath ?? hostPort(spec.dstHost!, spec.dstPort!);
}

/**
 * Make room for a socket at `path`: nothing there is fine; a socket that
 * refuses connections is stale and removed; anything else is an error.
 */
async function clearStaleSocket(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw bindError(path, messageOf(err));
  }
  if (!info.isSocket) throw bindError(path, "the file exists and is not a socket");
  let conn: Deno.Conn | undefined;
  try {
    conn = await Deno.connect({ transport: "unix", path });
  } catch (err) {
    if (!(err instanceof Deno.errors.ConnectionRefused)) throw bindError(path, messageOf(err));
  }
  if (conn) {
    closeQuietly(conn);
    throw bindError(path, "another process listens on this socket");
  }
  await Deno.remove(path);
  log.debug("Removed the stale socket {path}", { path });
}

function bindError(path: string, why: string): WarrenError {
  return new WarrenError("bind", `Cannot listen on ${path}: ${why}`);
}

/**
 * Listen on a Unix socket, mode 0600 from the first moment: bound inside a
 * fresh 0700 directory next to `path`, made 0600, then hard-linked into
 * place (a link never replaces a file that appeared meanwhile). Changing the
 * umask, as OpenSSH does, would need a wider --allow-sys. A path too long
 * for that detour is bound in place and made 0600 at once.
 */
export async function listenUnix(path: string): Promise<Deno.UnixListener> {
  await clearStaleSocket(path);
  const slash = path.lastIndexOf("/");
  const dir = slash > 0 ? path.slice(0, slash) : slash === 0 ? "/" : ".";
  let tmp: string | undefined;
  try {
    tmp = await Deno.makeTempDir({ dir, prefix: ".w" });
  } catch (err) {
    throw bindError(path, osReason(err, "cannot create a file in its directory"));
  }
  const inner = `${tmp}/s`;
  const detour = new TextEncoder().encode(inner).length <= MAX_SOCKET_PATH;
  let listener: Deno.UnixListener | undefined;
  try {
    listener = Deno.listen({ transport: "unix", path: detour ? inner : path });
    await Deno.chmod(detour ? inner : path, 0o600);
    if (detour) await Deno.link(inner, path);
    return listener;
  } catch (err) {
    if (listener) closeQuietly(listener);
    throw bindError(path, osReason(err));
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

function osReason(err: unknown, fallback?: string): string {
  return err instanceof Deno.errors.AlreadyExists || err instanceof Deno.errors.AddrInUse
    ? "address already in use"
    : err instanceof Deno.errors.NotFound
    ? "no such directory"
    : err instanceof Deno.errors.PermissionDenied
    ? "permission denied"
    : fallback ?? messageOf(err);
}

/** Remove a socket file we created, unless someone replaced it meanwhile. */
export async function removeOwnSocket(path: string, ino: number | null): Promise<void> {
  try {
    const info = await Deno.lstat(path);
    if (info.isSocket && info.ino === ino) await Deno.remove(path);
  } catch {
    // Gone already (Deno unlinks a Unix listener's path when it closes).
  }
}

/** -L with a Unix socket at either end. */
export class LocalStreamTunnel implements Tunnel {
  readonly spec: ForwardSpec;
  #gateway: boolean;
  #ssh: StreamLocalSsh;
  #tcp: Deno.TcpListener[] = [];
  #unix?: { listener: Deno.UnixListener; ino: number | null };
  #conns: ConnectionSet;
  /** Refused channels, which any client can cause: one line per client per interval. */
  #gate = new LogGate();

  constructor(spec: ForwardSpec, gateway: boolean, ssh: StreamLocalSsh, activity: Activity) {
    this.spec = spec;
    this.#gateway = gateway;
    this.#ssh = ssh;
    this.#conns = new ConnectionSet(activity);
  }

  get description(): string {
    const listen = this.spec.listenPath ??
      (this.#tcp.length > 0
        ? this.#tcp.map((l) => hostPort(l.addr.hostname, l.addr.port)).join(", ")
        : hostPort(this.spec.listenAddress ?? "127.0.0.1", this.spec.listenPort));
    const dst = this.spec.dstPath ? `${this.spec.dstPath} (on the server)` : destination(this.spec);
    return `-L ${listen} -> ${dst}`;
  }

  /** The bound TCP addresses (after start; none for a socket). */
  get addresses(): Deno.NetAddr[] {
    return this.#tcp.map((l) => l.addr);
  }

  async start(): Promise<void> {
    if (this.spec.listenPath !== undefined) {
      const listener = await listenUnix(this.spec.listenPath);
      const ino = (await Deno.lstat(this.spec.listenPath)).ino;
      this.#unix = { listener, ino };
      this.#conns.track(
        acceptLoop(listener, this.#conns, (c) => this.#conns.serve(c, () => this.#serve(c))),
      );
    } else {
      const addrs = bindAddresses(this.spec.listenAddress, this.#gateway);
      this.#tcp = listenAll(addrs, this.spec.listenPort);
      for (const l of this.#tcp) {
        this.#conns.track(acceptLoop(l, this.#conns, (c) => {
          c.setNoDelay(true);
          this.#conns.serve(c, () => this.#serve(c));
        }));
      }
      if (this.#tcp.some((l) => !isLoopback(l.addr.hostname))) {
        log.warn("{desc} accepts connections from other hosts", { desc: this.description });
      }
    }
    log.info("Local tunnel {desc}", { desc: this.description });
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    const started = performance.now();
    const peer = conn.remoteAddr;
    const from = peer.transport === "unix" ? this.spec.listenPath! : hostPort(
      (peer as Deno.NetAddr).hostname,
      (peer as Deno.NetAddr).port,
    );
    const dst = destination(this.spec);
    let channel: ClientChannel;
    try {
      channel = this.spec.dstPath !== undefined
        ? await this.#ssh.openStreamLocal(this.spec.dstPath)
        : peer.transport === "unix"
        ? await this.#ssh.openDirect("127.0.0.1", 0, this.spec.dstHost!, this.spec.dstPort!)
        : await this.#ssh.openDirect(
          (peer as Deno.NetAddr).hostname,
          (peer as Deno.NetAddr).port,
          this.spec.dstHost!,
          this.spec.dstPort!,
        );
    } catch (err) {
      const source = peer.transport === "unix" ? from : (peer as Deno.NetAddr).hostname;
      this.#gate.log(
        log,
        "error",
        "open failed",
        source,
        "failed connections",
        "{from} -> {dst}: {err}",
        {
          from,
          dst,
          err: messageOf(err),
        },
      );
      return closeQuietly(conn);
    }
    if (this.#conns.closed) {
      channel.destroy();
      return closeQuietly(conn);
    }
    logClosed(from, dst, await pump(conn, channel), started);
  }

  async close(): Promise<void> {
    if (this.#conns.closed) return;
    for (const l of this.#tcp) closeQuietly(l);
    if (this.#unix) closeQuietly(this.#unix.listener);
    await this.#conns.close();
    this.#gate.close();
    if (this.#unix) await removeOwnSocket(this.spec.listenPath!, this.#unix.ino);
  }
}

/** -R with a Unix socket at either end. */
export class RemoteStreamTunnel implements Tunnel {
  readonly spec: ForwardSpec;
  #ssh: StreamLocalSsh;
  #bindAddress: string;
  #boundPort: number | undefined;
  #listening = false;
  #conns: ConnectionSet;
  /** Failed connects, which whoever reaches the server's end can cause. */
  #gate = new LogGate();

  constructor(spec: ForwardSpec, ssh: StreamLocalSsh, activity: Activity) {
    this.spec = spec;
    this.#ssh = ssh;
    this.#conns = new ConnectionSet(activity);
    this.#bindAddress = remoteBindAddress(spec);
  }

  get description(): string {
    const listen = this.spec.listenPath ??
      hostPort(this.#bindAddress || "*", this.#boundPort ?? this.spec.listenPort);
    return `-R ${listen} (on the server) -> ${destination(this.spec)}`;
  }

  /** The port the server bound (after start; none for a socket). */
  get boundPort(): number | undefined {
    return this.#boundPort;
  }

  async start(): Promise<void> {
    if (this.spec.listenPath !== undefined) {
      const path = this.spec.listenPath;
      await this.#ssh.forwardInStreamLocal(path, (accept, reject) => {
        this.#incoming(`${path} (on the server)`, path, accept, reject);
      });
      this.#listening = true;
      log.info("Remote tunnel {desc}", { desc: this.description });
      return;
    }
    this.#boundPort = await this.#ssh.forwardIn(
      this.#bindAddress,
      this.spec.listenPort,
      (details, accept, reject) => {
        this.#incoming(hostPort(details.srcIP, details.srcPort), details.srcIP, accept, reject);
      },
    );
    this.#listening = true;
    logRemoteListening("Remote tunnel", this.description, this.spec.listenPort, this.#boundPort);
  }

  #incoming(
    from: string,
    source: string,
    accept: () => ClientChannel,
    reject: () => void,
  ): void {
    if (this.#conns.closed) return reject();
    this.#conns.track(this.#serve(from, source, accept, reject));
  }

  async #serve(
    from: string,
    source: string,
    accept: () => ClientChannel,
    reject: () => void,
  ): Promise<void> {
    const dst = destination(this.spec);
    let conn: Deno.Conn;
    try {
      conn = this.spec.dstPath !== undefined
        ? await Deno.connect({ transport: "unix", path: this.spec.dstPath })
        : await dial(this.spec.dstHost!, this.spec.dstPort!);
    } catch (err) {
      reject();
      this.#gate.log(
        log,
        "error",
        "connect failed",
        source,
        "failed connections",
        "Remote tunnel {from} -> {dst}: cannot connect: {err}",
        { from, dst, err: messageOf(err) },
      );
      return;
    }
    if (this.#conns.closed) {
      reject();
      return closeQuietly(conn);
    }
    const channel = accept();
    const started = performance.now();
    this.#conns.serve(conn, async () => {
      const r = await pump(conn, channel);
      logClosed(from, dst, { sent: r.received, received: r.sent, error: r.error }, started);
    });
  }

  async close(): Promise<void> {
    if (this.#conns.closed) return;
    const closing = this.#conns.close();
    if (this.#listening) {
      if (this.spec.listenPath !== undefined) {
        await this.#ssh.unforwardInStreamLocal(this.spec.listenPath);
      } else await this.#ssh.unforwardIn(this.#bindAddress, this.#boundPort!);
    }
    await closing;
    this.#gate.close();
  }
}
