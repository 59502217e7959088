/**
 * Which remote forward an incoming forwarded-tcpip open belongs to.
 *
 * ssh2 1.17 looks the open's "address:port" up in `client._forwarding` and
 * rejects a miss on its own, with no event and no log line. Two things go
 * wrong with that:
 *
 * - Some servers (asyncssh) name the port that was *requested* in the open,
 *   so a `-R 0` forward receives opens for "address:0", not for the port the
 *   server assigned. Where exactly one port-0 forward is active on that
 *   address the match is unambiguous, and an "address:0" entry leads to it
 *   (ssh2 already rewrites a matched port 0 to the entry's real port).
 * - A miss is refused silently. Here it is logged with the reason.
 *
 * The table is ssh2's own object behind a Proxy, so ssh2 keeps reading and
 * writing it as before; only lookups that miss are noticed.
 */
import { logger } from "../log.ts";

const log = logger("ssh", "forward");

interface ForwardingInternals {
  _forwarding?: Record<string, number>;
}

export class ForwardedOpens {
  #table: Record<string, number>;
  /** Per listen address: the real ports of forwards that asked for port 0. */
  #zero = new Map<string, Set<number>>();

  constructor(client: object) {
    const internals = client as ForwardingInternals;
    if (typeof internals._forwarding !== "object" || internals._forwarding === null) {
      throw new Error("ssh2 internals changed: no _forwarding table on the client");
    }
    this.#table = internals._forwarding;
    internals._forwarding = new Proxy(this.#table, {
      get: (table, key) => {
        const value = Reflect.get(table, key);
        if (value === undefined && typeof key === "string") this.#refused(key);
        return value;
      },
    });
  }

  /** A tcpip-forward for `requested` was granted as `real`. */
  added(address: string, requested: number, real: number): void {
    if (requested !== 0) return;
    const ports = this.#zero.get(address) ?? new Set();
    ports.add(real);
    this.#zero.set(address, ports);
    this.#alias(address);
  }

  /** The forward on `real` was cancelled. */
  removed(address: string, real: number): void {
    const ports = this.#zero.get(address);
    if (!ports?.delete(real)) return;
    if (ports.size === 0) this.#zero.delete(address);
    this.#alias(address);
  }

  #alias(address: string): void {
    const key = `${address}:0`;
    const ports = this.#zero.get(address);
    if (ports?.size === 1) this.#table[key] = [...ports][0];
    else delete this.#table[key];
  }

  #refused(key: string): void {
    const colon = key.lastIndexOf(":");
    const address = key.slice(0, colon);
    const port = key.slice(colon + 1);
    const zero = this.#zero.get(address)?.size ?? 0;
    const why = port === "0" && zero > 1
      ? `${zero} forwards asked for port 0 on '${address}', so port 0 does not say which`
      : `no forward of this connection listens on '${address}' port ${port}`;
    log.warn("Refused a connection the server forwarded for {key}: {why}", { key, why });
  }
}
