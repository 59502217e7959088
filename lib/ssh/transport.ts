/**
 * The TCP transport under ssh2: a Node Duplex over a `Deno.TcpConn`, passed
 * to ssh2 as its `sock`, in place of node:net's Socket.
 *
 * - Writes coalesce: packets written in the same turn of the event loop,
 *   or while a write is in flight, go out together (`_writev`), copied
 *   into one buffer (reused, 256 KiB, on a socket that moves bulk data), so
 *   a burst of SSH packets costs one system call instead of one each (an
 *   upload's eight packets per local read: one write, not eight). A lone
 *   packet is written as it is, without a copy; a small one waits for
 *   nothing but the end of the current turn.
 * - Reads fill a buffer (16 KiB, growing to 256 KiB while reads fill it)
 *   that is handed on without a copy: ssh2 opens packets in place, and
 *   payloads refer to it. It is read into again only if every payload's
 *   consumer copied what it needed (lib/net/read_lease.ts; tunnels do), else
 *   the next read gets a fresh one; short reads are copied out so the buffer
 *   can be reused.
 * - Half-close as TCP does it: `end()` shuts down the write side only
 *   (`closeWrite`); the read side is read with `conn.read()`, never through
 *   `conn.readable`, whose EOF would close the whole socket.
 * - TCP_NODELAY is on: SSH packets are already batched, and Nagle's delay
 *   would add tens of milliseconds to every interactive round trip.
 */
import { Buffer } from "node:buffer";
import { Duplex } from "node:stream";
import { copyBytes, nextReadSize, writeAll, writeGathered } from "../net/io.ts";
import { type DataSink, lend, reusable } from "../net/read_lease.ts";
import { recyclePacket, setWindowAdjustListener } from "./crypto/ciphers.ts";
import { receivesPlain } from "./compression.ts";

/**
 * The read buffer starts at MIN_READ and doubles while reads fill it, up to
 * MAX_READ; a short read brings it back. A bulk transfer then reads eight
 * packets per system call (a third less CPU per GiB downloaded than 64 KiB
 * reads), and an idle connection holds 16 KiB.
 */
const MIN_READ = 16 * 1024;
const MAX_READ = 256 * 1024;
const COPY_BELOW = 4 * 1024;
/** A packet smaller than this waits for the end of the turn, for company (cork). */
const SMALL = 16 * 1024;
/** Queued packets are copied into one buffer of up to this and written with one system call. */
const JOIN_UP_TO = 256 * 1024;
/** A queue this large is bulk data: the socket keeps a JOIN_UP_TO buffer for it. */
const BULK = 64 * 1024;

/**
 * What warren's SSH transports (DenoSocket here, the proxy command's socket
 * in proxy_command.ts) share. Reading (`readInto`): a buffer of MIN_READ,
 * doubling while reads fill it, handed to ssh2 without a copy and lent to
 * the packet opener with the channels' sinks (lib/net/read_lease.ts), read
 * into again if every packet's consumer copied what it needed. Writing, over
 * `out`:
 *
 * - the small packets ssh2 writes in one turn of the event loop go out in one
 *   write: the first of a turn corks the stream, and a microtask uncorks it
 *   once the synchronous work that produced them is done;
 * - queued packets are written together (`_writev`), those that lie back to
 *   back as one range, the rest copied into one join buffer;
 * - each packet, once written, goes back to its sealer's slab or pool
 *   (recyclePacket in lib/ssh/crypto/ciphers.ts).
 */
export abstract class PacketDuplex extends Duplex {
  /** Where the bytes go. */
  protected abstract readonly out: Pick<Deno.Conn, "write">;

  #reading = false;
  #buf = new Uint8Array(MIN_READ);
  /** Where channel data may be decrypted to, by local channel id (attachSink). */
  readonly sinks = new Map<number, DataSink>();
  readonly #sinkFor = (recipient: number) => this.sinks.get(recipient);

  /** Read into `buf` as a connection does: the bytes read, or null at the end of the input. */
  protected abstract readInto(buf: Uint8Array): Promise<number | null>;

  /** The input has ended (every byte before it pushed): the stream's end. */
  protected inputEnded(): void {
    this.push(null);
  }

  /** Who hears of the window adjusts in a read while ssh2 parses it, if anyone. */
  protected adjustListener(): (() => void) | undefined {
    return undefined;
  }

  override _read(): void {
    if (this.#reading) return;
    this.#reading = true;
    this.#pull();
  }

  async #pull(): Promise<void> {
    for (;;) {
      let n: number | null;
      try {
        n = await this.readInto(this.#buf);
      } catch (err) {
        this.#reading = false;
        if (!this.destroyed) this.destroy(err as Error);
        return;
      }
      if (this.destroyed) return;
      if (n === null) {
        this.#reading = false;
        this.inputEnded();
        return;
      }
      const size = nextReadSize(n, this.#buf.length, MIN_READ, MAX_READ);
      let more: boolean;
      if (n < COPY_BELOW) {
        more = this.#parse(copyBytes(this.#buf.subarray(0, n)));
        if (size !== this.#buf.length) this.#buf = new Uint8Array(size);
      } else {
        // Lent through the parse: read into again if every packet in it was
        // opened and copied by its consumer while it was handled.
        lend(this.#buf.buffer, this.sinks.size > 0 ? this.#sinkFor : undefined);
        let reuse = false;
        try {
          more = this.#parse(Buffer.from(this.#buf.buffer, 0, n));
        } finally {
          reuse = reusable() && this.readableLength === 0;
        }
        if (!reuse || size !== this.#buf.length) this.#buf = new Uint8Array(size);
      }
      if (!more) {
        this.#reading = false;
        return;
      }
    }
  }

  /**
   * Hand a read to ssh2, which parses it before push() returns; the window
   * adjusts among its packets are heard by adjustListener() meanwhile.
   */
  #parse(chunk: Buffer): boolean {
    const listener = this.adjustListener();
    if (listener) setWindowAdjustListener(listener);
    try {
      return this.push(chunk);
    } finally {
      setWindowAdjustListener(undefined);
    }
  }

  // deno-lint-ignore no-explicit-any
  override write(chunk: any, encoding?: any, cb?: any): boolean {
    // A large packet needs no company: it goes at once (behind any small
    // ones already waiting), so bulk data keeps flowing while the next
    // packet is sealed.
    if (!this.#corked && chunk.length < SMALL) {
      this.#corked = true;
      this.cork();
      queueMicrotask(this.#uncork);
    }
    return super.write(chunk, encoding, cb);
  }

  #corked = false;
  #uncork = () => {
    this.#corked = false;
    this.uncork();
  };

  override _write(chunk: Buffer, _enc: string, cb: (err?: Error | null) => void): void {
    writeAll(this.out, chunk).then(() => {
      recyclePacket(chunk);
      cb();
    }, (err) => cb(err));
  }

  #join?: Uint8Array;

  override _writev(
    chunks: { chunk: Buffer }[],
    cb: (err?: Error | null) => void,
  ): void {
    // A handshake's or an idle connection's few small packets get a join
    // buffer of their own size, if they need one; only a socket that moves
    // bulk data keeps one of JOIN_UP_TO (a server with a thousand quiet
    // clients holds none).
    let total = 0;
    for (const { chunk } of chunks) total += chunk.length;
    const join = total >= BULK ? (this.#join ??= new Uint8Array(JOIN_UP_TO)) : total;
    // Packets sealed one after another lie back to back (bulk ones in their
    // sealer's slab, small ones in a shared pool: lib/ssh/crypto/ciphers.ts)
    // and go out as one range, with no copy.
    writeGathered(this.out, chunks.map((c) => c.chunk), join, recyclePacket)
      .then(() => cb(), (err) => cb(err));
  }
}

/**
 * For a transport that is not a PacketDuplex (a jump host's channel, over
 * which the next hop's SSH connection runs): each packet goes back to its
 * sealer's slab once the stream has taken it (its write's callback), as a
 * PacketDuplex hands it back once written. Without this each slab carried
 * its packets once and was left to the garbage collector: a third more CPU
 * per GiB uploaded through a jump host.
 */
export function recycleOnWrite(stream: Duplex): void {
  const write = stream.write.bind(stream);
  // deno-lint-ignore no-explicit-any
  stream.write = ((chunk: any, encoding?: any, cb?: any) => {
    if (typeof encoding === "function") [cb, encoding] = [encoding, undefined];
    return write(chunk, encoding, (err?: Error | null) => {
      recyclePacket(chunk);
      cb?.(err);
    });
  }) as typeof stream.write;
}

export class DenoSocket extends PacketDuplex {
  readonly conn: Deno.TcpConn;
  protected readonly out: Deno.TcpConn;
  /** ssh2 checks this to know the socket is already connected. */
  readonly connecting = false;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** As node:net says it ("IPv4" or "IPv6"); ssh2's server passes it on. */
  readonly remoteFamily: string;
  /**
   * Called when the peer sent a window adjust and nothing went out on this
   * socket in the turn of the event loop after it (connection.ts answers with
   * SSH_MSG_IGNORE). OpenSSH's sshd leaves Nagle's algorithm on for
   * tunnels: it sends its window adjust as soon as it has passed our data
   * on, and the answer that follows a moment later waits for the adjust's
   * ACK, which the kernel here delays by up to 40 ms when it has nothing to
   * send. A request/response tunnel stalled so once per 96 KiB sent (with
   * OpenSSH's client too); any packet back carries the ACK at once.
   */
  onQuietAfterAdjust?: () => void;
  /** Writes so far (ssh2 writes each packet). */
  #writes = 0;
  #quietTimer?: ReturnType<typeof setTimeout>;
  readonly #adjusted = () => {
    if (this.#quietTimer !== undefined) return;
    const before = this.#writes;
    this.#quietTimer = setTimeout(() => {
      this.#quietTimer = undefined;
      if (this.#writes === before && !this.destroyed) this.onQuietAfterAdjust?.();
    }, 0);
    Deno.unrefTimer(this.#quietTimer);
  };

  /** `initial`: bytes already read from `conn` (behind a proxy's answer). */
  constructor(conn: Deno.TcpConn, initial?: Uint8Array) {
    super({ allowHalfOpen: false });
    this.conn = conn;
    this.out = conn;
    if (initial && initial.length > 0) this.push(Buffer.from(initial));
    const addr = conn.remoteAddr as Deno.NetAddr;
    this.remoteAddress = addr.hostname;
    this.remotePort = addr.port;
    this.remoteFamily = addr.hostname.includes(":") ? "IPv6" : "IPv4";
    conn.setNoDelay(true);
  }

  setNoDelay(on = true): this {
    try {
      this.conn.setNoDelay(on);
    } catch { /* closed */ }
    return this;
  }

  setKeepAlive(on = false): this {
    try {
      this.conn.setKeepAlive(on);
    } catch { /* closed */ }
    return this;
  }

  /** Counts the packets ssh2 writes (see #adjusted), then writes as every PacketDuplex does. */
  // deno-lint-ignore no-explicit-any
  override write(chunk: any, encoding?: any, cb?: any): boolean {
    this.#writes++;
    return super.write(chunk, encoding, cb);
  }

  protected readInto(buf: Uint8Array): Promise<number | null> {
    return this.conn.read(buf);
  }

  protected override adjustListener(): (() => void) | undefined {
    return this.onQuietAfterAdjust ? this.#adjusted : undefined;
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.conn.closeWrite().then(() => cb(), () => cb());
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    clearTimeout(this.#quietTimer);
    this.#quietTimer = undefined;
    try {
      this.conn.close();
    } catch { /* closed already */ }
    cb(err);
  }
}

/**
 * Bytes waiting in an SSH connection's socket past which a tunnel stops
 * reading its local side. ssh2 writes every packet a channel's window allows
 * whatever its socket holds, so eight uploads into one connection queued up
 * to their 2 MiB windows each in warren (sealed packets, pinning slabs; a
 * tenth of the CPU went to GC).
 */
const BACKLOG = 1024 * 1024;

/**
 * For a reader that feeds an ssh2 channel: undefined if the channel's SSH
 * socket has less than BACKLOG bytes waiting to be written (nearly always),
 * else a promise that resolves once it has written them (or closed).
 */
export function socketBacklog(channel: object): Promise<void> | undefined {
  const sock = (channel as { _client?: { _sock?: unknown } })._client?._sock;
  if (!(sock instanceof Duplex) || sock.writableLength < BACKLOG || sock.destroyed) {
    return undefined;
  }
  return new Promise((resolve) => {
    // 'finish' for a socket that is being ended: it says no 'drain'.
    const events = ["drain", "finish", "close"];
    const done = () => {
      for (const e of events) sock.off(e, done);
      resolve();
    };
    for (const e of events) sock.once(e, done);
  });
}

let sunk = 0;

/**
 * Where a channel hears of data a sink took past its push(): code that
 * counts a channel's bytes by wrapping push() (the broker's traffic) sets
 * this too.
 */
export const pushedPast = Symbol("warren data past push()");

/** Packets decrypted straight into a sink in this process so far (for tests). */
export function sinkCount(): number {
  return sunk;
}

interface SinkChannel {
  [pushedPast]?: (len: number) => void;
  incoming?: { id?: number; window?: number };
  _client?: {
    _sock?: unknown;
    _protocol?: { _onPacket?: () => void };
    _chanMgr?: { get(id: number): unknown };
  };
}

/**
 * Let the SSH transport decrypt this ssh2 channel's data straight into
 * `sink` (lib/net/read_lease.ts) instead of handing ssh2 a payload. Only on
 * a connection over warren's own socket and without compression; the
 * packet is still the connection's (ssh2 hears of it, for its keepalive),
 * and the channel is checked to be the one ssh2 has under that id, with
 * window left, each time. Returns the function that detaches the sink, or
 * undefined where that cannot be done (the channel's data then comes as
 * ssh2's 'data' events, as it always may).
 */
export function attachSink(channel: object, sink: DataSink): (() => void) | undefined {
  const ch = channel as SinkChannel;
  const client = ch._client;
  const sock = client?._sock;
  const id = ch.incoming?.id;
  const protocol = client?._protocol;
  const channels = client?._chanMgr;
  if (
    !(sock instanceof PacketDuplex) || id === undefined || protocol === undefined ||
    channels === undefined || !receivesPlain(protocol)
  ) {
    return undefined;
  }
  const entry: DataSink = {
    room: (len) =>
      channels.get(id) === channel && (ch.incoming?.window ?? 0) > 0 && receivesPlain(protocol)
        ? sink.room(len)
        : undefined,
    commit: (len) => {
      sunk++;
      protocol._onPacket?.();
      ch[pushedPast]?.(len);
      sink.commit(len);
    },
  };
  sock.sinks.set(id, entry);
  return () => {
    if (sock.sinks.get(id) === entry) sock.sinks.delete(id);
  };
}
