/**
 * A remote tunnel of the broker (`<remote-tunnel>` of a connect-on-startup
 * profile, or `warren ctl open-tunnel-listener -R`): it holds its profile's
 * link, so the connection stays up, and asks the server for the forward on
 * every new connection. A refusal is retried with backoff while that
 * connection lives: after a reconnect the server may still hold the port
 * for the old connection it has not yet noticed is dead.
 */
import { hostPort } from "../config/forward.ts";
import { messageOf } from "../errors.ts";
import { logger } from "../log.ts";
import { FtpRemoteTunnel } from "../tunnel/ftp/tunnel.ts";
import { remoteBindAddress, RemoteTunnel } from "../tunnel/remote.ts";
import { RemoteProxyTunnel } from "../tunnel/proxy/remote_tunnel.ts";
import type { Tunnel } from "../tunnel/types.ts";
import { Backoff } from "../profiles/backoff.ts";
import { Listener } from "./listeners.ts";
import type { ProfileLink } from "../profiles/link.ts";
import type { Session } from "../profiles/session.ts";

const log = logger("broker");

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
    // then(f, f), not finally(): a rejected task must not become an unhandled rejection.
    const forget = () => void this.#tasks.delete(task);
    task.then(forget, forget);
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
      : this.spec.protocol === "socks"
      ? new RemoteProxyTunnel(this.spec, forwarder, this.activity)
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
