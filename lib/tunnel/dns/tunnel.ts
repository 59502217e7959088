/**
 * A DNS tunnel (-L dns/[listen-address:]listen-port:resolver-host[:port]):
 * a UDP and TCP DNS listener here, on the same port, whose queries go as
 * DNS-over-TCP through direct-tcpip channels to a resolver the SSH server
 * reaches (upstream.ts). Names only the far side's DNS knows then resolve
 * here: the DNS half of Tectia's transparent tunneling.
 *
 * - Nothing is resolved or cached here; a query passes through unchanged but
 *   for its ID. A malformed packet, or one that is not a standard query, is
 *   dropped with a debug line.
 * - A query the resolver does not answer within DEADLINE_MS (or cannot be
 *   reached for) gets SERVFAIL, before a client's usual 5 s timeout.
 * - A UDP answer larger than the client takes (512 bytes, or its EDNS size)
 *   is sent truncated (TC), and the client asks again over TCP.
 * - TCP clients may pipeline; answers go back as they come. A TCP client
 *   idle for TCP_IDLE_MS is closed.
 * - At most MAX_PENDING queries wait at once; more are dropped (a debug line).
 */
import dgram from "node:dgram";
import { Buffer } from "node:buffer";
import { type ForwardSpec, hostPort } from "../../config/forward.ts";
import { messageOf, WarrenError } from "../../errors.ts";
import { logger } from "../../log.ts";
import { fitUdp, parseQuery, servfail } from "../../protocols/dns.ts";
import { closeQuietly, writeAll } from "../../net/io.ts";
import { acceptLoop, ConnectionSet } from "../connections.ts";
import { bindAddresses, isLoopback, listenAll } from "../listen.ts";
import type { Activity, ChannelOpener, Tunnel } from "../types.ts";
import { DnsUpstream } from "./upstream.ts";

const log = logger("tunnel", "dns");

export const DEADLINE_MS = 4_000;
export const TCP_IDLE_MS = 30_000;
export const MAX_PENDING = 4_096;

export class DnsTunnel implements Tunnel {
  readonly spec: ForwardSpec;
  #gateway: boolean;
  #upstream: DnsUpstream;
  #tcp: Deno.TcpListener[] = [];
  #udp: dgram.Socket[] = [];
  #conns: ConnectionSet;
  #pending = 0;
  #deadlineMs: number;

  constructor(
    spec: ForwardSpec,
    gateway: boolean,
    open: ChannelOpener,
    activity: Activity,
    options: { deadlineMs?: number } = {},
  ) {
    this.spec = spec;
    this.#gateway = gateway;
    this.#conns = new ConnectionSet(activity);
    this.#deadlineMs = options.deadlineMs ?? DEADLINE_MS;
    this.#upstream = new DnsUpstream(
      () => open("127.0.0.1", 0, spec.dstHost!, spec.dstPort!),
      hostPort(spec.dstHost!, spec.dstPort!),
    );
  }

  get description(): string {
    const addrs = this.#tcp.length > 0
      ? this.#tcp.map((l) => hostPort(l.addr.hostname, l.addr.port)).join(", ")
      : hostPort(this.spec.listenAddress ?? "127.0.0.1", this.spec.listenPort);
    return `-L dns/${addrs} (UDP and TCP) -> ${hostPort(this.spec.dstHost!, this.spec.dstPort!)}`;
  }

  /** The bound TCP addresses (UDP has the same ones). */
  get addresses(): Deno.NetAddr[] {
    return this.#tcp.map((l) => l.addr);
  }

  async start(): Promise<void> {
    const addrs = bindAddresses(this.spec.listenAddress, this.#gateway);
    this.#tcp = listenAll(addrs, this.spec.listenPort);
    try {
      for (const l of this.#tcp) this.#udp.push(await bindUdp(l.addr.hostname, l.addr.port));
    } catch (err) {
      for (const l of this.#tcp) closeQuietly(l);
      for (const s of this.#udp) s.close();
      throw err;
    }
    for (const s of this.#udp) {
      s.on("message", (msg: Buffer, rinfo: dgram.RemoteInfo) => this.#datagram(s, msg, rinfo));
    }
    for (const l of this.#tcp) {
      this.#conns.track(
        acceptLoop(l, this.#conns, (c) => this.#conns.serve(c, () => this.#serveTcp(c))),
      );
    }
    log.info("DNS tunnel {desc}", { desc: this.description });
    if (this.#tcp.some((l) => !isLoopback(l.addr.hostname))) {
      log.warn("{desc} answers other hosts too", { desc: this.description });
    }
  }

  /** The answer to one query: the resolver's, or SERVFAIL. */
  async #answer(packet: Uint8Array, from: string): Promise<Uint8Array | undefined> {
    const q = parseQuery(packet);
    if (typeof q === "string") {
      log.debug("{from}: DNS packet dropped: {why}", { from, why: q });
      return undefined;
    }
    if (this.#pending >= MAX_PENDING) {
      log.debug("{from}: DNS query dropped: {n} queries wait already", { from, n: this.#pending });
      return undefined;
    }
    this.#pending++;
    try {
      const answer = await this.#upstream.query(packet, q.id, this.#deadlineMs);
      if (answer === undefined) {
        log.debug("{from}: no answer from {r} (in time or at all): SERVFAIL", {
          from,
          r: hostPort(this.spec.dstHost!, this.spec.dstPort!),
        });
      }
      return answer ?? servfail(packet, q);
    } finally {
      this.#pending--;
    }
  }

  #datagram(socket: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.#conns.closed) return;
    const from = hostPort(rinfo.address, rinfo.port);
    const packet = new Uint8Array(msg.buffer, msg.byteOffset, msg.length).slice();
    const q = parseQuery(packet);
    const udpSize = typeof q === "string" ? 512 : q.udpSize;
    this.#conns.track(
      this.#answer(packet, from).then((answer) => {
        if (!answer || this.#conns.closed) return;
        socket.send(fitUdp(answer, udpSize), rinfo.port, rinfo.address, (err) => {
          if (err) log.debug("{from}: DNS answer not sent: {err}", { from, err: messageOf(err) });
        });
      }),
    );
  }

  async #serveTcp(conn: Deno.TcpConn): Promise<void> {
    const from = hostPort(conn.remoteAddr.hostname, conn.remoteAddr.port);
    conn.setNoDelay(true);
    let idle: ReturnType<typeof setTimeout> | undefined;
    const rearm = () => {
      if (idle !== undefined) clearTimeout(idle);
      idle = setTimeout(() => closeQuietly(conn), TCP_IDLE_MS);
    };
    const answers: Promise<void>[] = [];
    let writing = Promise.resolve();
    const buf = new Uint8Array(64 * 1024);
    let have = new Uint8Array(0);
    rearm();
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        rearm();
        const grown = new Uint8Array(have.length + n);
        grown.set(have);
        grown.set(buf.subarray(0, n), have.length);
        have = grown;
        while (have.length >= 2) {
          const len = (have[0] << 8) | have[1];
          if (have.length < 2 + len) break;
          const packet = have.slice(2, 2 + len);
          have = have.slice(2 + len);
          answers.push(
            this.#answer(packet, from).then((answer) => {
              if (!answer) return;
              const frame = new Uint8Array(2 + answer.length);
              frame.set([answer.length >> 8, answer.length & 0xff]);
              frame.set(answer, 2);
              writing = writing.then(() => writeAll(conn, frame)).catch(() => {});
              return writing;
            }),
          );
        }
      }
      await Promise.all(answers);
      await writing;
    } catch (err) {
      log.debug("{from}: DNS over TCP: {err}", { from, err: messageOf(err) });
    } finally {
      if (idle !== undefined) clearTimeout(idle);
      await Promise.allSettled(answers);
      closeQuietly(conn);
    }
  }

  async close(): Promise<void> {
    if (this.#conns.closed) return;
    for (const l of this.#tcp) closeQuietly(l);
    await Promise.all(this.#udp.map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.#upstream.close();
    await this.#conns.close();
  }
}

/** A UDP socket on `address`:`port`; a failure is a bind error, as for TCP. */
function bindUdp(address: string, port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type: address.includes(":") ? "udp6" : "udp4" });
    socket.once("error", (err) => {
      socket.close();
      reject(
        new WarrenError(
          "bind",
          `Cannot listen on ${hostPort(address, port)}/udp: ${messageOf(err)}`,
        ),
      );
    });
    socket.bind(port, address, () => {
      socket.removeAllListeners("error");
      socket.on("error", (err) => log.debug("DNS UDP socket: {err}", { err: messageOf(err) }));
      resolve(socket);
    });
  });
}
