/**
 * `warren serve`'s SSH server: ssh2's Server fed by our own TCP listener, so
 * each socket gets TCP_NODELAY and a login grace timer before SSH starts, and
 * each client becomes a PeerConnection (peer.ts).
 *
 * - Clients come through a Deno listener and warren's own transport
 *   (lib/ssh/transport.ts's DenoSocket, as the client's connections do), not
 *   node:net: packets written in one turn go out in one system call, reads
 *   are handed to ssh2 without a copy, and a tunnel's channel data is
 *   decrypted straight into its pump's buffers. Through node:net serve spent
 *   twice sshd's CPU per GiB.
 * - Accept failures go through lib/net/accept.ts (a reset client costs
 *   nothing; running out of descriptors backs off and logs once).
 * - A client that has not authenticated within `loginGraceSeconds` (default
 *   120, as sshd's LoginGraceTime) is dropped.
 * - At most `maxStartups` clients wait to authenticate at once (sshd's
 *   MaxStartups, default 10:30:100, startups.ts); a new connection beyond
 *   that is closed before any SSH is spoken, and the refusals are logged as
 *   one warning when they start and a count when they stop.
 * - ssh2 pings authenticated clients (keepalive@openssh.com) every 15 s and
 *   drops one that misses 3 replies, so dead peers do not pin listeners.
 * - close() stops accepting, disconnects every client, and waits for their
 *   streams and listeners to end.
 */
import type { Socket } from "node:net";
import { hostPort } from "../config/forward.ts";
import { LogGate, logger } from "../log.ts";
import { acceptEach, resourcesFreed } from "../net/accept.ts";
import { closeQuietly } from "../net/io.ts";
import { connectionClosed } from "../net/trim.ts";
import { DenoSocket } from "../ssh/transport.ts";
import { listenAll } from "../tunnel/listen.ts";
import type { Connection } from "../ssh/ssh2.ts";
import { Server } from "../ssh/ssh2_server.ts";
import { offeredCompression } from "../ssh/compression.ts";
import { VERSION } from "../version.ts";
import type { HostKey } from "./host_key.ts";
import { DEFAULT_STARTUPS, formatStartups, refuseStartup, type Startups } from "./startups.ts";
import { PeerConnection, type ServePolicy } from "./peer.ts";

const log = logger("serve");

export interface ServeOptions extends Omit<ServePolicy, "maxAuthTries"> {
  hostname: string;
  /** 0 = any free port (see `address`). */
  port: number;
  hostKey: HostKey;
  loginGraceSeconds?: number;
  maxAuthTries?: number;
  maxStartups?: Startups;
  /** For tests: the random draw behind maxStartups' early refusals. */
  random?: () => number;
}

const DEFAULT_LOGIN_GRACE_S = 120;
const DEFAULT_MAX_AUTH_TRIES = 6;
const CLOSE_WAIT_MS = 1000;

interface SocketEntry {
  id: number;
  sock: DenoSocket;
  timer?: ReturnType<typeof setTimeout>;
  /** Set once the client's SSH version line has arrived. */
  peer?: PeerConnection;
  authenticated: boolean;
}

export class WarrenServer implements AsyncDisposable {
  #listener: Deno.TcpListener;
  #accepting: Promise<void>;
  #stopAccepting = new AbortController();
  #ssh: InstanceType<typeof Server>;
  #peers = new Set<PeerConnection>();
  #sockets = new Map<string, SocketEntry>();
  #nextId = 1;
  #closing?: Promise<void>;
  #startups: Startups;
  #random: () => number;
  /** Lines any host can cause before it logs in: one per kind and address per interval. */
  #gate = new LogGate();
  /** Connections not yet authenticated. */
  #waiting = 0;
  /** Connections refused since the refusals began (0: none lately). */
  #refused = 0;

  private constructor(opts: ServeOptions, listener: Deno.TcpListener) {
    const policy: ServePolicy = {
      authorizedKeysFile: opts.authorizedKeysFile,
      permitOpen: opts.permitOpen,
      permitListen: opts.permitListen,
      gatewayPorts: opts.gatewayPorts,
      maxAuthTries: opts.maxAuthTries ?? DEFAULT_MAX_AUTH_TRIES,
      permitStreamLocal: opts.permitStreamLocal,
    };
    const graceMs = (opts.loginGraceSeconds ?? DEFAULT_LOGIN_GRACE_S) * 1000;
    this.#startups = opts.maxStartups ?? DEFAULT_STARTUPS;
    this.#random = opts.random ?? Math.random;
    this.#ssh = new Server(
      {
        hostKeys: [opts.hostKey.privateKey],
        ident: `warren_${VERSION}`,
        algorithms: { compress: offeredCompression("server") },
      },
      (conn: Connection, info: { ip: string; port: number; header: { versions: unknown } }) =>
        this.#onClient(conn, info, policy),
    );
    this.#listener = listener;
    const a = listener.addr;
    this.#accepting = acceptEach(
      listener,
      hostPort(a.hostname, a.port),
      () => this.#closing !== undefined,
      (conn) => this.#onConnection(conn, graceMs),
      this.#stopAccepting.signal,
    );
  }

  /** Listen; throws WarrenError("bind") if the address cannot be bound. */
  static start(opts: ServeOptions): Promise<WarrenServer> {
    // Synchronous, but async to its callers as node:net's listen was.
    return Promise.resolve().then(() =>
      new WarrenServer(opts, listenAll([opts.hostname], opts.port)[0])
    );
  }

  /** The bound address. */
  get address(): { hostname: string; port: number } {
    const a = this.#listener.addr;
    return { hostname: a.hostname, port: a.port };
  }

  /** Live client connections. */
  get peerCount(): number {
    return this.#peers.size;
  }

  #onConnection(conn: Deno.TcpConn, graceMs: number): void {
    let sock: DenoSocket;
    try {
      sock = new DenoSocket(conn);
    } catch {
      // Reset before it could be set up (TCP_NODELAY on a dead socket).
      closeQuietly(conn);
      resourcesFreed();
      return;
    }
    const key = `${sock.remoteAddress}:${sock.remotePort}`;
    const from = hostPort(sock.remoteAddress, sock.remotePort);
    if (this.#closing) return void sock.destroy();
    if (refuseStartup(this.#startups, this.#waiting, this.#random())) {
      if (this.#refused++ === 0) {
        log.warn(
          "Too many connections waiting to authenticate ({n}; --max-startups {max}): refusing new ones, starting with {from}",
          {
            n: this.#waiting,
            max: formatStartups(this.#startups),
            from,
          },
        );
      }
      return void sock.destroy();
    }
    const entry: SocketEntry = { id: this.#nextId++, sock, authenticated: false };
    this.#waiting++;
    entry.timer = setTimeout(() => {
      this.#gate.log(
        log,
        "info",
        "grace",
        sock.remoteAddress,
        "connections not authenticated in time",
        "#{id} {from}: not authenticated within {s} s: closing",
        { id: entry.id, from, s: graceMs / 1000 },
      );
      sock.destroy();
    }, graceMs);
    this.#sockets.set(key, entry);
    sock.once("close", () => {
      connectionClosed();
      resourcesFreed();
      clearTimeout(entry.timer);
      this.#sockets.delete(key);
      if (!entry.authenticated) this.#settled();
      if (!entry.peer) {
        this.#gate.log(
          log,
          "info",
          "no handshake",
          sock.remoteAddress,
          "connections closed before the SSH handshake",
          "#{id} connection from {from} closed before the SSH handshake",
          { id: entry.id, from },
        );
      }
    });
    // ssh2 types this as node:net's Socket; it uses what a Duplex has, plus
    // the remote address fields and setNoDelay, which DenoSocket provides.
    this.#ssh.injectSocket(sock as unknown as Socket);
  }

  /** One connection stopped waiting to authenticate (it did, or it closed). */
  #settled(): void {
    this.#waiting--;
    if (this.#refused > 0 && this.#waiting < this.#startups.start) {
      log.warn("Refused {n} connection(s) while too many waited to authenticate", {
        n: this.#refused,
      });
      this.#refused = 0;
    }
  }

  #onClient(
    conn: Connection,
    info: { ip: string; port: number; header: unknown },
    policy: ServePolicy,
  ) {
    const entry = this.#sockets.get(`${info.ip}:${info.port}`);
    const header = info.header as { identRaw?: string } | undefined;
    const peer = new PeerConnection(
      conn,
      { id: entry?.id ?? this.#nextId++, ip: info.ip, port: info.port, ident: header?.identRaw },
      policy,
      () => {
        if (!entry) return;
        clearTimeout(entry.timer);
        entry.authenticated = true;
        this.#settled();
      },
      this.#gate,
    );
    if (entry) entry.peer = peer;
    this.#peers.add(peer);
    peer.closed.then(() => this.#peers.delete(peer));
    if (this.#closing) peer.end();
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stopAccepting.abort();
      closeQuietly(this.#listener);
      for (const peer of this.#peers) peer.end();
      // A peer that does not answer the disconnect is cut off.
      const timer = setTimeout(() => {
        for (const { sock } of this.#sockets.values()) sock.destroy();
      }, CLOSE_WAIT_MS);
      await Promise.all([...this.#peers].map((p) => p.closed));
      for (const { sock } of this.#sockets.values()) sock.destroy();
      await this.#accepting;
      clearTimeout(timer);
      this.#gate.close();
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
