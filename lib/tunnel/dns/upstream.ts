/**
 * DNS-over-TCP (RFC 7766) to one resolver through the SSH connection: a
 * small pool of direct-tcpip channels, each carrying many queries, each
 * query framed by its two-byte length.
 *
 * - Queries are pipelined: a channel takes up to MAX_IN_FLIGHT at once and
 *   answers may come in any order. Each query gets an ID unique on its
 *   channel; the answer gets the client's ID back. Up to MAX_CHANNELS are
 *   opened under load; one idle for IDLE_MS is closed.
 * - A channel the resolver closes with queries still unanswered: each is sent
 *   once more on another channel (a resolver may close after every answer).
 * - Every query has a deadline; past it, or when the resolver cannot be
 *   reached, `query()` resolves undefined and the caller answers SERVFAIL.
 */
import { Buffer } from "node:buffer";
import type { Duplex } from "node:stream";
import { messageOf } from "../../errors.ts";
import { logger } from "../../log.ts";
import { responseId, withId } from "../../protocols/dns.ts";

const log = logger("tunnel", "dns");

export const MAX_CHANNELS = 4;
export const MAX_IN_FLIGHT = 32;
export const IDLE_MS = 10_000;
const WARN_EVERY_MS = 10_000;

interface Pending {
  packet: Uint8Array;
  clientId: number;
  retried: boolean;
  settle(answer: Uint8Array | undefined): void;
  /** Where it waits now, to be taken off at its deadline. */
  on?: { channel: UpstreamChannel; id: number };
}

class UpstreamChannel {
  channel?: Duplex;
  ready: Promise<boolean>;
  inFlight = new Map<number, Pending>();
  /** Queries written before the channel opened. */
  #queued: Pending[] = [];
  #nextId = Math.floor(Math.random() * 0x10000);
  #buf = new Uint8Array(0);
  #idle?: ReturnType<typeof setTimeout>;
  closed = false;

  constructor(
    open: () => Promise<Duplex>,
    private readonly onClosed: (orphans: Pending[]) => void,
    private readonly label: string,
    private readonly onOpenFailed: (why: string) => void,
  ) {
    this.ready = open().then((channel) => {
      if (this.closed) {
        channel.destroy();
        return false;
      }
      this.channel = channel;
      channel.on("data", (chunk: Buffer) => this.#data(chunk));
      channel.on("error", (err: Error) => {
        log.debug("DNS channel to {r}: {err}", { r: this.label, err: messageOf(err) });
      });
      channel.once("close", () => this.#close());
      channel.once("end", () => this.#close());
      for (const p of this.#queued.splice(0)) this.#write(p);
      this.#touch();
      return true;
    }, (err) => {
      this.onOpenFailed(messageOf(err));
      this.#close();
      return false;
    });
  }

  get load(): number {
    return this.inFlight.size + this.#queued.length;
  }

  send(p: Pending): void {
    let id = this.#nextId;
    while (this.inFlight.has(id)) id = (id + 1) & 0xffff;
    this.#nextId = (id + 1) & 0xffff;
    this.inFlight.set(id, p);
    p.on = { channel: this, id };
    if (this.channel) this.#write(p);
    else this.#queued.push(p);
    this.#touch();
  }

  /** Take a query off (its deadline passed). */
  forget(id: number): void {
    const p = this.inFlight.get(id);
    if (!p) return;
    this.inFlight.delete(id);
    const i = this.#queued.indexOf(p);
    if (i >= 0) this.#queued.splice(i, 1);
    this.#touch();
  }

  #write(p: Pending): void {
    const id = p.on!.id;
    const frame = Buffer.alloc(2 + p.packet.length);
    frame.writeUInt16BE(p.packet.length, 0);
    frame.set(withId(p.packet, id), 2);
    this.channel!.write(frame);
  }

  #data(chunk: Buffer): void {
    const grown = new Uint8Array(this.#buf.length + chunk.length);
    grown.set(this.#buf);
    grown.set(chunk, this.#buf.length);
    this.#buf = grown;
    while (this.#buf.length >= 2) {
      const len = (this.#buf[0] << 8) | this.#buf[1];
      if (this.#buf.length < 2 + len) break;
      const answer = this.#buf.slice(2, 2 + len);
      this.#buf = this.#buf.slice(2 + len);
      const id = responseId(answer);
      const p = id === undefined ? undefined : this.inFlight.get(id);
      if (!p) {
        log.debug("DNS answer from {r} with unknown ID {id} dropped", { r: this.label, id });
        continue;
      }
      this.inFlight.delete(id!);
      p.on = undefined;
      p.settle(withId(answer, p.clientId));
    }
    this.#touch();
  }

  /** (Re)arm the idle timer when nothing waits. */
  #touch(): void {
    if (this.#idle !== undefined) clearTimeout(this.#idle);
    this.#idle = undefined;
    if (this.closed || this.load > 0) return;
    this.#idle = setTimeout(() => this.close(), IDLE_MS);
  }

  #close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.#idle !== undefined) clearTimeout(this.#idle);
    const orphans = [...this.inFlight.values()];
    this.inFlight.clear();
    this.#queued = [];
    this.channel?.destroy();
    this.onClosed(orphans);
  }

  close(): void {
    this.#close();
  }
}

export class DnsUpstream {
  #open: () => Promise<Duplex>;
  #label: string;
  #channels = new Set<UpstreamChannel>();
  #closed = false;
  #lastWarn = -Infinity;

  /** `open` makes a direct-tcpip channel to the resolver; `label` names it in logs. */
  constructor(open: () => Promise<Duplex>, label: string) {
    this.#open = open;
    this.#label = label;
  }

  /** The answer (with the client's ID), or undefined past `deadlineMs` or on failure. */
  query(packet: Uint8Array, clientId: number, deadlineMs: number): Promise<Uint8Array | undefined> {
    if (this.#closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      let done = false;
      const timer = setTimeout(() => {
        if (p.on) p.on.channel.forget(p.on.id);
        p.settle(undefined);
      }, deadlineMs);
      const p: Pending = {
        packet,
        clientId,
        retried: false,
        settle: (answer) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          resolve(answer);
        },
      };
      this.#dispatch(p);
    });
  }

  #dispatch(p: Pending): void {
    if (this.#closed) return p.settle(undefined);
    let best: UpstreamChannel | undefined;
    for (const c of this.#channels) if (!best || c.load < best.load) best = c;
    if (!best || (best.load >= MAX_IN_FLIGHT && this.#channels.size < MAX_CHANNELS)) {
      best = new UpstreamChannel(
        this.#open,
        (orphans) => {
          this.#channels.delete(best!);
          for (const o of orphans) {
            if (o.retried) o.settle(undefined);
            else {
              o.retried = true;
              o.on = undefined;
              this.#dispatch(o);
            }
          }
        },
        this.#label,
        (why) => this.#openFailed(why),
      );
      this.#channels.add(best);
    }
    best.send(p);
  }

  /** A warning when the resolver cannot be reached, at most one per WARN_EVERY_MS. */
  #openFailed(why: string): void {
    const now = Date.now();
    const level = now - this.#lastWarn >= WARN_EVERY_MS ? "warn" : "debug";
    if (level === "warn") this.#lastWarn = now;
    log[level]("DNS resolver {r}: {err}", { r: this.#label, err: why });
  }

  /** How many channels are open or opening (for tests and status). */
  get channels(): number {
    return this.#channels.size;
  }

  close(): void {
    this.#closed = true;
    for (const c of [...this.#channels]) c.close();
  }
}
