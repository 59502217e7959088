/**
 * The broker's tunnel listeners: static tunnels, the `<tunnels>` of
 * connect-on-startup profiles, and those `warren ctl open-tunnel-listener`
 * adds. Each wraps one of the engine's tunnels (lib/tunnel/) and counts its
 * connections and bytes for `warren ctl list-tunnel-listeners`.
 *
 * - A local listener binds at once and stays bound whatever happens to the
 *   SSH connection: each accepted client asks the profile's link for a
 *   channel, which opens the connection if it is not up (lib/profiles/link.ts).
 *   The link is looked up per client, so a reload that changes the profile
 *   takes effect without touching the listener.
 * - A remote listener (remote_listener.ts) holds its profile's link and asks
 *   the server for the forward on every new connection.
 */
import type { ForwardProtocol, ForwardSpec } from "../config/forward.ts";
import { hostPort } from "../config/forward.ts";
import type { IncomingTcpHandler } from "../ssh/connection.ts";
import { FtpLocalTunnel } from "../tunnel/ftp/tunnel.ts";
import type { FtpSsh } from "../tunnel/ftp/data.ts";
import { LocalTunnel } from "../tunnel/local.ts";
import { ProxyTunnel } from "../tunnel/proxy/tunnel.ts";
import type { Route } from "../config/routes.ts";
import type { Activity, ChannelOpener } from "../tunnel/types.ts";
import type { ListenerOrigin, Wanted } from "./plan.ts";
import type { ProfileLink } from "../profiles/link.ts";
import { Traffic } from "../profiles/traffic.ts";

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

  constructor(id: number, wanted: Wanted, links: LinkLookup) {
    this.id = id;
    this.spec = wanted.spec;
    this.profile = wanted.profile;
    this.origin = wanted.origin;
    this.key = wanted.key;
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
      profile: this.profile || "(filter rules)",
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
  /** A filtered (socks-proxy) tunnel's routes: each names its profile; no match is refused. */
  #routes?: Route[];

  constructor(id: number, wanted: Wanted, links: LinkLookup) {
    super(id, wanted, links);
    this.#routes = wanted.routes;
  }

  async start(): Promise<void> {
    const counters = [this.traffic];
    const via = (profile: string): ChannelOpener => (srcHost, srcPort, dstHost, dstPort) =>
      this.links(profile).openDirect(srcHost, srcPort, dstHost, dstPort, counters);
    const open = via(this.profile);
    const spec = this.spec;
    if (spec.protocol === "socks") {
      this.#tunnel = new ProxyTunnel(
        spec,
        open,
        this.activity,
        this.#routes ? { routes: this.#routes, unmatched: "block", openVia: via } : {},
      );
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
