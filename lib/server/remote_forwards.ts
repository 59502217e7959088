/**
 * The listeners of one client's remote tunnels (tcpip-forward): bind, hand
 * each accepted connection to the client as a forwarded-tcpip channel, cancel.
 *
 * Where a listener binds (OpenSSH's GatewayPorts, "no" / "clientspecified"):
 * - without --gateway-ports: loopback only. A loopback address the client
 *   names (127.x.y.z, ::1) is used as given; anything else becomes 127.0.0.1
 *   and ::1, and the log says so.
 * - with --gateway-ports: what the client asks for. "" and "*" mean every
 *   interface, "localhost" both loopbacks, any other address exactly that.
 *
 * The forwarded-tcpip channel names the address exactly as the client asked
 * ("localhost", not the 127.0.0.1 bound), since clients match on that string.
 */
import { hostPort } from "../config/forward.ts";
import { messageOf } from "../errors.ts";
import type { Connection, ServerChannel } from "../ssh/ssh2.ts";
import { acceptLoop, type ConnectionSet, logClosed } from "../tunnel/connections.ts";
import { bindAddresses, isLoopback, listenAll } from "../tunnel/listen.ts";
import { pump } from "../tunnel/pump.ts";
import { closeQuietly } from "../net/io.ts";
import { keepHalfOpen } from "./ssh2_internals.ts";

export interface ForwardLog {
  info(line: string): void;
  debug(line: string): void;
}

/** The addresses to bind for a requested address (see above). */
export function forwardBindAddresses(requested: string, gatewayPorts: boolean): string[] {
  if (!gatewayPorts) {
    return isLoopback(requested) && requested !== "localhost"
      ? [requested]
      : bindAddresses(undefined, false);
  }
  if (requested === "" || requested === "*") return bindAddresses(undefined, true);
  return bindAddresses(requested, false);
}

interface Forward {
  listeners: Deno.TcpListener[];
}

export class RemoteForwards {
  #conn: Connection;
  #gatewayPorts: boolean;
  #conns: ConnectionSet;
  #log: ForwardLog;
  #forwards = new Map<string, Forward>();

  constructor(conn: Connection, gatewayPorts: boolean, conns: ConnectionSet, log: ForwardLog) {
    this.#conn = conn;
    this.#gatewayPorts = gatewayPorts;
    this.#conns = conns;
    this.#log = log;
  }

  /** Bind for address:port (0 = any); resolves the bound port. Throws WarrenError("bind"). */
  add(address: string, port: number): number {
    const addresses = forwardBindAddresses(address, this.#gatewayPorts);
    const listeners = listenAll(addresses, port);
    const bound = listeners[0].addr.port;
    const key = `${address}:${bound}`;
    if (this.#forwards.has(key)) {
      for (const l of listeners) closeQuietly(l);
      throw new Error(`already forwarding ${hostPort(address || "*", bound)}`);
    }
    this.#forwards.set(key, { listeners });
    for (const l of listeners) {
      this.#conns.track(
        acceptLoop(
          l,
          this.#conns,
          (c) => this.#conns.serve(c, () => this.#serve(c, address, bound)),
        ),
      );
    }
    const where = listeners.map((l) => hostPort(l.addr.hostname, l.addr.port)).join(", ");
    const asked = hostPort(address || "*", port);
    const loopbackOnly = !this.#gatewayPorts && !isLoopback(address);
    this.#log.info(
      `remote forward listening on ${where} (asked for ${asked}` +
        `${loopbackOnly ? "; loopback only without --gateway-ports" : ""})`,
    );
    return bound;
  }

  /** cancel-tcpip-forward: false when there is no such forward. */
  cancel(address: string, port: number): boolean {
    const key = `${address}:${port}`;
    const fwd = this.#forwards.get(key);
    if (!fwd) return false;
    this.#forwards.delete(key);
    for (const l of fwd.listeners) closeQuietly(l);
    this.#log.info(`remote forward on ${hostPort(address || "*", port)} cancelled`);
    return true;
  }

  /** Close every listener (the connections are the ConnectionSet's). */
  closeAll(): void {
    for (const fwd of this.#forwards.values()) {
      for (const l of fwd.listeners) closeQuietly(l);
    }
    this.#forwards.clear();
  }

  async #serve(sock: Deno.TcpConn, address: string, port: number): Promise<void> {
    const started = performance.now();
    const peer = sock.remoteAddr as Deno.NetAddr;
    const from = hostPort(peer.hostname, peer.port);
    const listen = hostPort(address || "*", port);
    sock.setNoDelay(true);
    let channel: ServerChannel;
    try {
      channel = await new Promise<ServerChannel>((resolve, reject) => {
        this.#conn.forwardOut(address, port, peer.hostname, peer.port, (err, ch) => {
          if (err) reject(err);
          else resolve(ch);
        });
      });
    } catch (err) {
      this.#log.info(
        `forwarded connection ${from} -> ${listen} refused by the client: ${messageOf(err)}`,
      );
      closeQuietly(sock);
      return;
    }
    keepHalfOpen(channel);
    this.#log.info(`forwarded connection ${from} -> ${listen}`);
    const r = await pump(sock, channel);
    channel.close();
    logClosed(from, listen, r, started);
  }
}
