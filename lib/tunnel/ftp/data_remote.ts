/**
 * The remote kind of one-use FTP data entry: a tcpip-forward on the SSH
 * server (port 0) whose one connection is dialed to a destination here.
 * Lifetime rules as in data.ts; the forward is cancelled as soon as its
 * connection arrives (the connection itself goes on), and `stats.forwards`
 * drops only once the server has answered the cancel.
 */
import { hostPort } from "../../config/forward.ts";
import { messageOf } from "../../errors.ts";
import { logger } from "../../log.ts";
import type { ClientChannel, TcpConnectionDetails } from "../../ssh/ssh2.ts";
import {
  type DataEntry,
  type DataHub,
  type FtpSsh,
  type Killable,
  logPump,
  samePeer,
} from "./data.ts";
import { pump } from "../pump.ts";
import { closeQuietly } from "../../net/io.ts";

const log = logger("tunnel", "ftp");

export interface RemoteEntryOptions {
  /** The address the SSH server binds ("127.0.0.1", "::1", "localhost", "" for all). */
  bind: string;
  /** Only connections from this originator address (undefined: anyone). */
  allowedPeer?: string;
  label: string;
  /** Connect to the data destination on this side. */
  dial(): Promise<Deno.TcpConn>;
}

/** Ask the SSH server to listen for one data connection; dial it here. */
export async function openRemoteEntry(
  hub: DataHub,
  ssh: FtpSsh,
  options: RemoteEntryOptions,
): Promise<DataEntry> {
  const entry = new RemoteEntry(hub, ssh, options);
  await entry.start();
  return entry;
}

class RemoteEntry implements DataEntry, Killable {
  used = false;
  port = 0;
  #hub: DataHub;
  #ssh: FtpSsh;
  #opts: RemoteEntryOptions;
  #forwarded = false;
  #killed = false;
  #timer?: ReturnType<typeof setTimeout>;
  #conn?: Deno.Conn;

  constructor(hub: DataHub, ssh: FtpSsh, opts: RemoteEntryOptions) {
    this.#hub = hub;
    this.#ssh = ssh;
    this.#opts = opts;
  }

  /**
   * The address a 227 announces: the bind address, or 127.0.0.1 for
   * "localhost" and the wildcards. A client on another host then reaches the
   * forward at the address of its control connection, where curl and lftp
   * go anyway when a 227 names a loopback address.
   */
  get host(): string {
    const b = this.#opts.bind;
    return b === "localhost" || b === "" || b === "0.0.0.0" ? "127.0.0.1" : b;
  }

  async start(): Promise<void> {
    this.port = await this.#ssh.forwardIn(
      this.#opts.bind,
      0,
      (details, accept, reject) => this.#incoming(details, accept, reject),
    );
    this.#forwarded = true;
    this.#hub.stats.forwards++;
    this.#hub.add(this);
    this.#timer = setTimeout(() => {
      log.debug("{label}: unused for {s} s, cancelled", {
        label: this.#opts.label,
        s: this.#hub.idleMs / 1000,
      });
      this.release();
    }, this.#hub.idleMs);
    if (this.#hub.closed) this.kill();
  }

  release(): void {
    if (!this.#forwarded) return;
    this.#forwarded = false;
    clearTimeout(this.#timer);
    this.#hub.track(
      this.#ssh.unforwardIn(this.#opts.bind, this.port).finally(() => {
        this.#hub.stats.forwards--;
        if (!this.used) this.#hub.remove(this);
      }),
    );
  }

  kill(): void {
    this.#killed = true;
    this.release();
    if (this.#conn) closeQuietly(this.#conn);
  }

  #incoming(details: TcpConnectionDetails, accept: () => ClientChannel, reject: () => void): void {
    if (this.used || !this.#forwarded) return reject();
    const allowed = this.#opts.allowedPeer;
    if (allowed && !samePeer(details.srcIP, allowed)) {
      this.#hub.gate.log(
        log,
        "warn",
        "data intruder",
        details.srcIP,
        "refused data connections",
        "{label}: refused a data connection from {peer} (expected {allowed})",
        { label: this.#opts.label, peer: hostPort(details.srcIP, details.srcPort), allowed },
      );
      return reject();
    }
    this.used = true;
    this.release();
    this.#hub.track(this.#carry(accept, reject));
  }

  async #carry(accept: () => ClientChannel, reject: () => void): Promise<void> {
    this.#hub.stats.transfers++;
    this.#hub.stats.total++;
    try {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#opts.dial();
      } catch (err) {
        reject();
        this.#hub.gate.log(
          log,
          "warn",
          "data connect",
          this.#opts.allowedPeer ?? "data",
          "failed data connections",
          "{label}: cannot connect: {err}",
          { label: this.#opts.label, err: messageOf(err) },
        );
        return;
      }
      if (this.#killed) {
        reject();
        return closeQuietly(conn);
      }
      this.#conn = conn;
      logPump(this.#opts.label, await pump(conn, accept()));
    } finally {
      this.#hub.stats.transfers--;
      this.#hub.remove(this);
    }
  }
}
