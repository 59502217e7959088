/**
 * One client of `warren serve`, from its SSH version line to its close.
 *
 * - Authentication: public keys only (auth.ts); "none" is answered with the
 *   list ("publickey"), anything else is refused and logged. After
 *   `maxAuthTries` failures the connection is dropped, as sshd does.
 * - Channels: direct-tcpip, checked against the key's options and the
 *   server's --permit-open before ssh2 sees it, and direct-streamlocal
 *   (Unix sockets) for paths --permit-streamlocal allows; every other type
 *   (session, so shell, exec and subsystems; x11, agent, tun) is refused
 *   with "administratively prohibited" (or "unknown channel type") and a
 *   reason the client can print.
 * - Global requests: tcpip-forward and cancel-tcpip-forward (remote_forwards
 *   .ts), streamlocal-forward and its cancel (streamlocal_forwards.ts, under
 *   --permit-streamlocal); ssh2 itself answers the rest (keepalive@openssh.com gets a
 *   failure reply, which is the answer keepalives wait for).
 * - Every tunneled stream is the byte pump with half-close; a failing stream
 *   or destination ends that stream only, a failing peer that connection only.
 */
import { hostPort } from "../config/forward.ts";
import { fingerprintSha256 } from "../config/ssh_key_blob.ts";
import { messageOf } from "../errors.ts";
import { type LogGate, logger } from "../log.ts";
import type { AuthContext, Connection, ServerChannel } from "../ssh/ssh2.ts";
import { ConnectionSet, logClosed } from "../tunnel/connections.ts";
import { measureRoundTrip } from "../ssh/window.ts";
import { pump } from "../tunnel/pump.ts";
import { closeQuietly } from "../net/io.ts";
import { dial } from "../tunnel/remote.ts";
import type { AuthorizedKey } from "./authorized_keys.ts";
import { checkKey, keyWhere, readAuthorizedKeys } from "./auth.ts";
import { listenAllowed, type ListenPermit, openAllowed, type OpenPermit } from "./permits.ts";
import { RemoteForwards } from "./remote_forwards.ts";
import { StreamLocalForwards } from "./streamlocal_forwards.ts";
import { wildcardMatch } from "../config/known_hosts.ts";
import {
  acceptKeyProbe,
  advertiseSignatureAlgorithms,
  type ChannelOpenInfo,
  dropConnection,
  filterChannelOpens,
  keepHalfOpen,
  negotiated,
  OPEN_FAILURE,
  type OpenRefusal,
  quietAfterClose,
  requestedKeyAlgorithm,
} from "./ssh2_internals.ts";

const log = logger("serve");

export interface ServePolicy {
  authorizedKeysFile: string;
  /** undefined = any destination. */
  permitOpen?: OpenPermit[];
  /** undefined = any listen address and port. */
  permitListen?: ListenPermit[];
  gatewayPorts: boolean;
  maxAuthTries: number;
  /** Unix socket paths (wildcards) clients may connect or listen on; undefined = none. */
  permitStreamLocal?: string[];
}

/** Channel types a client may open that warren serve refuses on purpose. */
const REFUSED_CHANNELS: Record<string, string> = {
  session: "sessions (shell, exec, subsystems)",
  "tun@openssh.com": "tun/tap forwarding",
  x11: "X11 forwarding",
  "auth-agent@openssh.com": "agent forwarding",
  "forwarded-tcpip": "forwarded-tcpip from a client",
};

interface TcpipInfo {
  destIP: string;
  destPort: number;
  srcIP: string;
  srcPort: number;
}

/** The kinds of line (log gate) that mark an address whose logins fail. */
const GATE_WHAT: Record<string, string> = {
  "refused publickey": "refused keys",
  "refused method": "refused logins",
  "auth error": "failed logins",
  "auth tries": "disconnections for failed logins",
  connection: "connections",
  closed: "closed connections",
};
const AUTH_KINDS = ["refused publickey", "refused method", "auth error", "auth tries"];

export class PeerConnection {
  readonly id: number;
  readonly ip: string;
  readonly port: number;
  /** Resolves once the connection and all its streams are gone. */
  readonly closed: Promise<void>;
  #conn: Connection;
  #policy: ServePolicy;
  #keys?: Promise<AuthorizedKey[]>;
  #key?: AuthorizedKey;
  #failures = 0;
  #channels = 0;
  #ended = false;
  #lastError?: Error;
  #started = performance.now();
  #conns: ConnectionSet;
  #forwards: RemoteForwards;
  #streamLocal: StreamLocalForwards;
  #gate?: LogGate;
  #authenticated = false;
  /** The "connection from" line was held back (its address goes on the accepted line). */
  #quietStart = false;

  constructor(
    conn: Connection,
    client: { id: number; ip: string; port: number; ident?: string },
    policy: ServePolicy,
    onAuthenticated: () => void,
    gate?: LogGate,
  ) {
    this.#conn = conn;
    this.#policy = policy;
    this.id = client.id;
    this.ip = client.ip;
    this.port = client.port;
    this.#gate = gate;
    this.#conns = new ConnectionSet({ opened: () => this.#channels++, closed: () => {} });
    const say = { info: (l: string) => this.#info(l), debug: (l: string) => this.#debug(l) };
    this.#forwards = new RemoteForwards(conn, policy.gatewayPorts, this.#conns, say);
    this.#streamLocal = new StreamLocalForwards(conn, this.#conns, say);
    const ident = printable(client.ident ?? "no version line");
    const hello = `connection from ${hostPort(client.ip, client.port)} (${ident})`;
    // From an address whose logins are failing, connections are counted, not listed.
    if (this.#failing()) this.#quietStart = !this.#gated("connection", hello);
    else this.#info(hello);

    conn.on("error", (err: Error) => this.#lastError = err);
    conn.on("authentication", (ctx) => {
      this.#authenticate(ctx).catch((err) => {
        this.#gated("auth error", `authentication failed: ${messageOf(err)}`);
        this.#fail(ctx);
      });
    });
    conn.once("ready", () => {
      const n = negotiated(conn);
      if (n) {
        this.#debug(
          `transport ${n.cs.cipher} / ${n.sc.cipher}, compression ${n.cs.compress} / ${n.sc.compress}`,
        );
      }
      measureRoundTrip(conn);
      onAuthenticated();
    });
    filterChannelOpens(conn, (info) => this.#filter(info));
    quietAfterClose(conn);
    advertiseSignatureAlgorithms(conn);
    conn.on("tcpip", (accept, reject, info) => {
      // Nothing may reject unhandled: that would take the whole server down.
      this.#conns.track(
        this.#direct(accept, reject, info as TcpipInfo).catch((err) => {
          this.#info(`direct-tcpip failed: ${messageOf(err)}`);
        }),
      );
    });
    conn.on("request", (accept, reject, name, info) => {
      this.#request(name, info as { bindAddr: string; bindPort: number }, accept, reject);
    });
    conn.on("openssh.streamlocal", (accept, reject, info) => {
      this.#conns.track(
        this.#directStreamLocal(accept, reject, info.socketPath).catch((err) => {
          this.#info(`direct-streamlocal failed: ${messageOf(err)}`);
        }),
      );
    });
    this.closed = new Promise((resolve) => {
      conn.once("close", async () => {
        this.#ended = true;
        this.#forwards.closeAll();
        this.#streamLocal.closeAll();
        await this.#conns.close();
        const secs = ((performance.now() - this.#started) / 1000).toFixed(1);
        const err = this.#lastError ? `: ${messageOf(this.#lastError)}` : "";
        const bye = `closed after ${secs} s, ${this.#channels} tunneled connection(s)${err}`;
        if (!this.#authenticated && this.#failing()) this.#gated("closed", bye);
        else this.#info(bye);
        resolve();
      });
    });
  }

  /** Disconnect (SSH_MSG_DISCONNECT, then the socket). */
  end(): void {
    this.#conn.end();
  }

  // Lines carry client-supplied text: no control characters reach the log.
  #info(line: string): void {
    log.info("#{id} {line}", { id: this.id, line: line.replace(/[^\x20-\x7e]/g, "?") });
  }

  /** Whether logins from this address have failed lately (its lines are being counted). */
  #failing(): boolean {
    return AUTH_KINDS.some((kind) => this.#gate?.busy(kind, this.ip));
  }

  /**
   * A line any host can cause before it logs in (failed logins): the first
   * of its kind from this address per interval, the rest counted.
   */
  #gated(kind: string, line: string): boolean {
    if (!this.#gate) {
      this.#info(line);
      return true;
    }
    const text = line.replace(/[^\x20-\x7e]/g, "?");
    return this.#gate.log(log, "info", kind, this.ip, GATE_WHAT[kind] ?? "lines", "#{id} {line}", {
      id: this.id,
      line: text,
    });
  }

  #debug(line: string): void {
    log.debug("#{id} {line}", { id: this.id, line: line.replace(/[^\x20-\x7e]/g, "?") });
  }

  async #authenticate(ctx: AuthContext): Promise<void> {
    const user = printable(ctx.username);
    if (ctx.method === "none") return ctx.reject(["publickey"]);
    if (ctx.method !== "publickey") {
      this.#gated(
        "refused method",
        `refused ${ctx.method} for ${user}: only public keys are accepted`,
      );
      return this.#fail(ctx);
    }
    let keys: AuthorizedKey[];
    try {
      keys = await (this.#keys ??= readAuthorizedKeys(this.#policy.authorizedKeysFile).then((r) =>
        r.keys
      ));
    } catch (err) {
      this.#info(`cannot read ${this.#policy.authorizedKeysFile}: ${messageOf(err)}`);
      return this.#fail(ctx);
    }
    const offered = {
      blob: ctx.key.data,
      signature: ctx.signature,
      signed: ctx.blob,
      hashAlgo: ctx.hashAlgo,
    };
    const what = `${printable(requestedKeyAlgorithm(ctx))} ${fingerprintSha256(ctx.key.data)}`;
    const check = checkKey(keys, offered, this.ip);
    if (!check.ok) {
      this.#gated("refused publickey", `refused publickey ${what} for ${user}: ${check.why}`);
      return this.#fail(ctx);
    }
    if (ctx.signature === undefined) return acceptKeyProbe(ctx); // "this key would do"
    this.#key = check.key;
    this.#authenticated = true;
    const from = this.#quietStart ? ` from ${hostPort(this.ip, this.port)}` : "";
    this.#info(`accepted publickey ${what} for ${user} (${keyWhere(check.key)})${from}`);
    this.#accept(ctx);
  }

  /**
   * Let the client in. ssh2 starts delayed compression (zlib@openssh.com)
   * inside accept(), after telling the client it is in: a failure there is
   * no authentication failure, and the session cannot go on, so say what
   * broke and drop the connection rather than leave the client waiting.
   */
  #accept(ctx: AuthContext): void {
    try {
      ctx.accept();
    } catch (err) {
      this.#info(`cannot start the session after authentication: ${messageOf(err)}`);
      dropConnection(this.#conn);
    }
  }

  #fail(ctx: AuthContext): void {
    this.#failures++;
    ctx.reject(["publickey"]);
    if (this.#failures >= this.#policy.maxAuthTries) {
      this.#gated("auth tries", `${this.#failures} failed authentication attempts: disconnecting`);
      this.#conn.end();
    }
  }

  #filter(info: ChannelOpenInfo): OpenRefusal | undefined {
    if (info.type === "direct-streamlocal@openssh.com") {
      const path = String((info.data as { socketPath?: unknown }).socketPath ?? "");
      const why = this.#streamLocalRefusal(path);
      if (why === undefined) return undefined;
      this.#info(`refused direct-streamlocal to ${printable(path)}: ${why}`);
      return { reason: OPEN_FAILURE.ADMINISTRATIVELY_PROHIBITED, description: why };
    }
    if (info.type === "direct-tcpip") {
      const d = info.data as unknown as TcpipInfo;
      const why = this.#openRefusal(d.destIP, d.destPort);
      if (why === undefined) return undefined;
      this.#info(`refused direct-tcpip to ${hostPort(printable(d.destIP), d.destPort)}: ${why}`);
      return { reason: OPEN_FAILURE.ADMINISTRATIVELY_PROHIBITED, description: why };
    }
    const known = REFUSED_CHANNELS[info.type];
    const description = `warren serve forwards TCP ports only; it offers no ${
      known ?? `'${printable(info.type)}' channels`
    }`;
    this.#info(`refused ${printable(info.type)} channel: ${description}`);
    return {
      reason: known ? OPEN_FAILURE.ADMINISTRATIVELY_PROHIBITED : OPEN_FAILURE.UNKNOWN_CHANNEL_TYPE,
      description,
    };
  }

  #openRefusal(host: string, port: number): string | undefined {
    const key = this.#key!;
    const target = hostPort(printable(host), port);
    if (!key.options.portForwarding) {
      return `port forwarding is disabled for this key (${keyWhere(key)})`;
    }
    if (!openAllowed(key.options.permitOpen, host, port)) {
      return `${target} is not in the key's permitopen (${keyWhere(key)})`;
    }
    if (!openAllowed(this.#policy.permitOpen, host, port)) {
      return `${target} is not allowed by --permit-open`;
    }
    return undefined;
  }

  #streamLocalRefusal(path: string): string | undefined {
    const key = this.#key!;
    if (!key.options.portForwarding) {
      return `port forwarding is disabled for this key (${keyWhere(key)})`;
    }
    const permits = this.#policy.permitStreamLocal;
    if (permits === undefined) return "Unix socket forwarding is off (see --permit-streamlocal)";
    if (!path.startsWith("/") || path.split("/").includes("..")) {
      return "only absolute paths without '..' are forwarded";
    }
    if (!permits.some((p) => wildcardMatch(path, p))) {
      return `${printable(path)} is not allowed by --permit-streamlocal`;
    }
    return undefined;
  }

  #listenRefusal(address: string, port: number): string | undefined {
    const key = this.#key!;
    if (!key.options.portForwarding) {
      return `port forwarding is disabled for this key (${keyWhere(key)})`;
    }
    if (!listenAllowed(key.options.permitListen, address, port)) {
      return `not in the key's permitlisten (${keyWhere(key)})`;
    }
    if (!listenAllowed(this.#policy.permitListen, address, port)) {
      return "not allowed by --permit-listen";
    }
    return undefined;
  }

  #request(
    name: string,
    info: { bindAddr: string; bindPort: number; socketPath?: string },
    accept: ((port?: number) => void) | undefined,
    reject: (() => void) | undefined,
  ): void {
    if (name === "streamlocal-forward@openssh.com") {
      const path = String(info.socketPath ?? "");
      const why = this.#streamLocalRefusal(path);
      if (why !== undefined) {
        this.#info(`refused remote forward on ${printable(path)}: ${why}`);
        return reject?.();
      }
      this.#conns.track(
        this.#streamLocal.add(path).then(() => accept?.(), (err) => {
          this.#info(`refused remote forward on ${printable(path)}: ${messageOf(err)}`);
          reject?.();
        }),
      );
      return;
    }
    if (name === "cancel-streamlocal-forward@openssh.com") {
      return this.#streamLocal.cancel(String(info.socketPath ?? "")) ? accept?.() : reject?.();
    }
    if (name === "cancel-tcpip-forward") {
      return this.#forwards.cancel(info.bindAddr, info.bindPort) ? accept?.() : reject?.();
    }
    if (name !== "tcpip-forward") {
      this.#info(`refused global request ${printable(name)}`);
      return reject?.();
    }
    const asked = hostPort(printable(info.bindAddr) || "*", info.bindPort);
    const why = this.#listenRefusal(info.bindAddr, info.bindPort);
    if (why !== undefined) {
      this.#info(`refused remote forward on ${asked}: ${why}`);
      return reject?.();
    }
    try {
      accept?.(this.#forwards.add(info.bindAddr, info.bindPort));
    } catch (err) {
      this.#info(`refused remote forward on ${asked}: ${messageOf(err)}`);
      reject?.();
    }
  }

  async #directStreamLocal(
    accept: () => ServerChannel,
    reject: () => void,
    path: string,
  ): Promise<void> {
    let sock: Deno.UnixConn;
    try {
      sock = await Deno.connect({ transport: "unix", path });
    } catch (err) {
      this.#info(`direct-streamlocal to ${printable(path)}: cannot connect: ${messageOf(err)}`);
      return reject();
    }
    if (this.#ended || this.#conns.closed) {
      closeQuietly(sock);
      return reject();
    }
    const channel = accept();
    keepHalfOpen(channel);
    this.#info(`direct-streamlocal -> ${printable(path)}`);
    const started = performance.now();
    this.#conns.serve(sock, async () => {
      const r = await pump(sock, channel);
      channel.close();
      logClosed("the client", printable(path), r, started);
    });
  }

  async #direct(accept: () => ServerChannel, reject: () => void, d: TcpipInfo): Promise<void> {
    const from = hostPort(printable(d.srcIP), d.srcPort);
    const dst = hostPort(printable(d.destIP), d.destPort);
    let sock: Deno.TcpConn;
    try {
      sock = await dial(d.destIP, d.destPort);
    } catch (err) {
      this.#info(`direct-tcpip to ${dst}: cannot connect: ${messageOf(err)}`);
      return reject();
    }
    if (this.#ended || this.#conns.closed) {
      closeQuietly(sock);
      return reject();
    }
    const channel = accept();
    keepHalfOpen(channel);
    this.#info(`direct-tcpip ${from} -> ${dst}`);
    const started = performance.now();
    this.#conns.serve(sock, async () => {
      const r = await pump(sock, channel);
      channel.close();
      logClosed(from, dst, r, started);
    });
  }
}

/** Client-supplied text for a log line: printable ASCII, at most 100 characters. */
function printable(text: string): string {
  const clean = String(text).replace(/[^\x20-\x7e]/g, "?");
  return clean.length > 100 ? `${clean.slice(0, 100)}...` : clean;
}
