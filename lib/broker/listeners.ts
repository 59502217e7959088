/**
 * The broker's tunnel listeners: static tunnels, the `<tunnels>` of
 * connect-on-startup profiles, and those `warren ctl open-tunnel-listener`
 * adds. Each wraps one of the engine's tunnels (lib/tunnel/) and counts its
 * connections and bytes for `warren ctl list-tunnel-listeners`.
 *
 * - A local listener binds at once and stays bound whatever happens to the
 *   SSH connection: each accepted client asks the profile's link for a
 *   channel, which opens the connection if it is not up (profile_link.ts).
 *   The link is looked up per client, so a reload that changes the profile
 *   takes effect without touching the listener.
 * - A remote listener holds its profile's link (keeps it connected) and asks
 *   the server for the forward on every new connection. A refusal is retried
 *   with backoff while that connection lives: after a reconnect the server
 *   may still hold the port for the connection it has not yet noticed is
 *   dead.
 */
import type { ForwardProtocol, ForwardSpec } from "../cli/forward.ts";
import { hostPort } from "../cli/forward.ts";
import { messageOf } from "../errors.ts";
import { logger } from "../log.ts";
import type { IncomingTcpHandler } from "../ssh/connection.ts";
import { FtpLocalTunnel, FtpRemoteTunnel } from "../tunnel/ftp.ts";
import type { FtpSsh } from "../tunnel/ftp_data.ts";
import { LocalTunnel } from "../tunnel/local.ts";
import { ProxyTunnel } from "../tunnel/proxy.ts";
import { remoteBindAddress, RemoteTunnel } from "../tunnel/remote.ts";
import type { Activity, ChannelOpener, Tunnel } from "../tunnel/types.ts";
import { Backoff } from "./backoff.ts";
import type { ProfileLink, Session } from "./profile_link.ts";
import { Traffic } from "./traffic.ts";

const log = logger("broker");

/** Where a listener comes from: reload only touches static and profile ones. */
export type ListenerOrigin = "static" | "profile" | "ctl";

export interface ListenerInfo {
  id: number;
  direction: "local" | "remote";
  type: ForwardProtocol;
  /** Bound addresses here, or the address requested on the server. */
  listen: string[];
  /** host:port, or "(client's choice)" for socks. */
  destination: string;
  profile: string;
  origin: ListenerOrigin;
  /** listening, or for a remote listener: waiting, requested, retrying... */
  state: string;
  /** Tunneled connections open now, and so far. */
  connections: number;
  total: number;
  sent: number;
  received: number;
}

class Counter implements Activity {
  live = 0;
  total = 0;
  opened(): void {
    this.live++;
    this.total++;
  }
  closed(): void {
    this.live--;
  }
}

/** How a listener reaches its profile's link (looked up at each use). */
export type LinkLookup = (profileId: string) => ProfileLink;

export abstract class Listener {
  readonly id: number;
  readonly spec: ForwardSpec;
  readonly profile: string;
  readonly origin: ListenerOrigin;
  /** Identity for reload: same key = same listener, kept as it is. */
  readonly key: string;
  protected traffic = new Traffic();
  protected activity = new Counter();
  protected links: LinkLookup;

  constructor(
    id: number,
    spec: ForwardSpec,
    profile: string,
    origin: ListenerOrigin,
    key: string,
    links: LinkLookup,
  ) {
    this.id = id;
    this.spec = spec;
    this.profile = profile;
    this.origin = origin;
    this.key = key;
    this.links = links;
  }

  abstract readonly direction: "local" | "remote";
  abstract start(): Promise<void>;
  abstract close(): Promise<void>;
  protected abstract listen(): string[];
  protected abstract state(): string;

  /** Whether `[address]:port` names this listener (close-tunnel-listener). */
  abstract matches(address: string | undefined, port: number): boolean;

  info(): ListenerInfo {
    return {
      id: this.id,
      direction: this.direction,
      type: this.spec.protocol,
      listen: this.listen(),
      destination: this.spec.dstHost === undefined
        ? "(client's choice)"
        : hostPort(this.spec.dstHost, this.spec.dstPort!),
      profile: this.profile,
      origin: this.origin,
      state: this.state(),
      connections: this.activity.live,
      total: this.activity.total,
      sent: this.traffic.sent,
      received: this.traffic.received,
    };
  }
}

/** The addresses `address` stands for when matching ("" / undefined = IPv4 loopback). */
function sameAddress(given: string | undefined, bound: string): boolean {
  const a = (given ?? "").replace(/^\[(.*)\]$/, "$1");
  if (a === "" || a === "localhost") return bound === "127.0.0.1" || (a !== "" && bound === "::1");
  if (a === "*") return bound === "0.0.0.0" || bound === "::";
  return a === bound;
}

export class LocalListener extends Listener {
  readonly direction = "local";
  #tunnel?: LocalTunnel | ProxyTunnel | FtpLocalTunnel;

  async start(): Promise<void> {
    const counters = [this.traffic];
    const open: ChannelOpener = (srcHost, srcPort, dstHost, dstPort) =>
      this.links(this.profile).openDirect(srcHost, srcPort, dstHost, dstPort, counters);
    const spec = this.spec;
    if (spec.protocol === "socks") {
      this.#tunnel = new ProxyTunnel(spec, open, this.activity);
    } else if (spec.protocol === "ftp") {
      this.#tunnel = new FtpLocalTunnel(spec, false, this.#ftpSsh(counters), this.activity);
    } else {
      this.#tunnel = new LocalTunnel(spec, false, open, this.activity);
    }
    await this.#tunnel.start();
  }

  /** FTP data forwards go back to the link (and connection) that made them. */
  #ftpSsh(counters: Traffic[]): FtpSsh {
    const madeBy = new Map<string, ProfileLink>();
    return {
      openDirect: (srcHost, srcPort, dstHost, dstPort) =>
        this.links(this.profile).openDirect(srcHost, srcPort, dstHost, dstPort, counters),
      forwardIn: async (address: string, port: number, handler: IncomingTcpHandler) => {
        const link = this.links(this.profile);
        const bound = await link.forwardIn(address, port, handler, counters);
        madeBy.set(`${address}:${bound}`, link);
        return bound;
      },
      unforwardIn: async (address: string, port: number) => {
        const link = madeBy.get(`${address}:${port}`);
        madeBy.delete(`${address}:${port}`);
        await link?.unforwardIn(address, port);
      },
    };
  }

  get addresses(): Deno.NetAddr[] {
    return this.#tunnel?.addresses ?? [];
  }

  protected listen(): string[] {
    return this.addresses.map((a) => hostPort(a.hostname, a.port));
  }

  protected state(): string {
    return "listening";
  }

  matches(address: string | undefined, port: number): boolean {
    return this.addresses.some((a) => a.port === port && sameAddress(address, a.hostname));
  }

  async close(): Promise<void> {
    await this.#tunnel?.close();
  }
}

export class RemoteListener extends Listener {
  readonly direction = "remote";
  #link?: ProfileLink;
  #release?: () => void;
  #unsubscribe?: () => void;
  #tunnel?: Tunnel & { boundPort?: number };
  #session?: Session;
  #state = "waiting for the connection";
  #retry?: ReturnType<typeof setTimeout>;
  #backoff = new Backoff({ baseMs: 1_000, capMs: 30_000 });
  #tasks = new Set<Promise<void>>();
  #closed = false;

  start(): Promise<void> {
    this.#attach(this.links(this.profile));
    return Promise.resolve();
  }

  /** Reload replaced the profile's link: move to the new one. */
  async relink(): Promise<void> {
    await this.#detach();
    if (!this.#closed) this.#attach(this.links(this.profile));
  }

  #attach(link: ProfileLink): void {
    this.#link = link;
    this.#release = link.hold();
    this.#unsubscribe = link.onConnected((session) => this.#track(this.#request(link, session)));
  }

  async #detach(): Promise<void> {
    this.#unsubscribe?.();
    this.#release?.();
    this.#unsubscribe = this.#release = this.#link = undefined;
    this.#clearRetry();
    const tunnel = this.#tunnel;
    this.#tunnel = this.#session = undefined;
    await tunnel?.close();
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  #clearRetry(): void {
    if (this.#retry !== undefined) clearTimeout(this.#retry);
    this.#retry = undefined;
  }

  async #request(link: ProfileLink, session: Session): Promise<void> {
    this.#clearRetry();
    const old = this.#tunnel;
    this.#tunnel = undefined;
    // The previous connection is gone; its forward went with it.
    await old?.close();
    if (this.#closed || this.#link !== link || session.state !== "connected") return;
    this.#session = session;
    const forwarder = link.forwarderFor(session, [this.traffic]);
    const tunnel = this.spec.protocol === "ftp"
      ? new FtpRemoteTunnel(this.spec, {
        ...forwarder,
        openDirect: (srcHost, srcPort, dstHost, dstPort) =>
          link.openDirect(srcHost, srcPort, dstHost, dstPort, [this.traffic]),
      }, this.activity)
      : new RemoteTunnel(this.spec, forwarder, this.activity);
    this.#state = "requesting";
    try {
      await tunnel.start();
    } catch (err) {
      await tunnel.close();
      if (this.#closed || session.state !== "connected" || this.#session !== session) return;
      const delay = Math.max(1_000, this.#backoff.failed(messageOf(err)));
      this.#state = `refused, retrying: ${messageOf(err)}`;
      log.warn("Remote tunnel {id}: {err}; retrying in {s} s", {
        id: this.id,
        err: messageOf(err),
        s: (delay / 1000).toFixed(1),
      });
      this.#retry = setTimeout(() => {
        this.#retry = undefined;
        this.#track(this.#request(link, session));
      }, delay);
      return;
    }
    if (this.#closed || this.#session !== session) {
      await tunnel.close();
      return;
    }
    this.#backoff.succeeded();
    this.#tunnel = tunnel;
    this.#state = "listening on the server";
  }

  #boundPort(): number {
    const t = this.#tunnel as { boundPort?: number } | undefined;
    return t?.boundPort ?? this.spec.listenPort;
  }

  protected listen(): string[] {
    return [hostPort(remoteBindAddress(this.spec) || "*", this.#boundPort())];
  }

  protected state(): string {
    if (this.#tunnel) return this.#state;
    return this.#session?.state === "connected" ? this.#state : "waiting for the connection";
  }

  matches(address: string | undefined, port: number): boolean {
    if (port !== this.#boundPort()) return false;
    const bind = remoteBindAddress(this.spec);
    const a = (address ?? "").replace(/^\[(.*)\]$/, "$1");
    return a === "" || a === bind || (a === "*" && bind === "");
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#detach();
    await Promise.allSettled([...this.#tasks]);
  }
}
