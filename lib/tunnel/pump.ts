/**
 * The byte pump: copies a local TCP connection (Deno.Conn) and an SSH channel
 * (a Node Duplex from ssh2) into each other until both directions have ended.
 *
 * - Half-close both ways: local EOF → channel EOF; channel EOF → closeWrite.
 * - Nothing accepted is dropped: CHANNEL_CLOSE goes out only after ssh2 has
 *   sent every byte read locally and our EOF ('finish'), however long the
 *   peer's window keeps them queued, and after every byte from the channel
 *   has been written locally. Closing earlier makes ssh2 discard what it
 *   still holds (its _write gives up once the channel is closing).
 *   The local side is read with `conn.read()`, never `conn.readable`, whose
 *   EOF would close the whole socket (deno#27510).
 * - Backpressure both ways: a local read waits until ssh2 has sealed all of
 *   the one before (the SSH window) and the SSH socket has no backlog, and
 *   the channel's window is held once 512 KiB wait for the local socket, so
 *   a fast sender behind a slow receiver keeps memory flat.
 * - Channel data that arrives while a local write is in flight is written
 *   together in one system call (a download's eight packets per SSH read),
 *   copied into pooled buffers as it arrives so that the SSH transport can
 *   read into its own buffer again; with AES-GCM and libcrypto the transport
 *   decrypts it straight into them (attachSink in lib/ssh/transport.ts).
 * - An error on either side destroys both; no exception escapes.
 * - Bytes are never reordered: one read loop, one ordered write chain.
 */
import { Buffer } from "node:buffer";
import type { Duplex } from "node:stream";
import { closeQuietly, copyBytes, nextReadSize, writeAll, writeGathered } from "../net/io.ts";
import { release } from "../net/read_lease.ts";
import { attachSink, socketBacklog } from "../ssh/transport.ts";
import { dataArrived, holdWindow } from "../ssh/window.ts";
import { trafficMoved } from "../net/trim.ts";

export interface PumpResult {
  /** Bytes from the local connection into the channel. */
  sent: number;
  /** Bytes from the channel to the local connection. */
  received: number;
  /** Set when the pump ended because of an error (one side failed). */
  error?: Error;
}

/**
 * The local read buffer starts small and doubles while reads fill it, up to
 * MAX_READ; a read smaller than MIN_READ brings it back. An idle connection
 * waits in a read on 4 KiB, not 64: with thousands open that was most of
 * warren's memory (3,000 connections held 190 MiB of buffers).
 */
const MIN_READ = 4 * 1024;
const MAX_READ = 256 * 1024;
/**
 * Local reads smaller than this are copied so the read buffer can be reused;
 * channel packets this large or larger are copied into a fill buffer.
 */
const COPY_BELOW = 8 * 1024;

/**
 * Channel data waiting for the local socket is copied into a join buffer of
 * this size and written with one system call, not one per SSH packet. Join
 * buffers are lent from a pool for the length of one write; it keeps 16, so
 * that eight streams writing at once do not allocate 256 KiB per write (with
 * 4 kept, eight downloading streams cost 10-20% more CPU per GiB).
 */
const JOIN = 256 * 1024;
const JOINS_KEPT = 16;
/**
 * Once this much channel data waits for the local socket, the channel's
 * window is no longer topped up (holdWindow), until the waiting data is
 * being written; the peer may still send what the window allows.
 */
const HOLD_AT = 2 * JOIN;
const joins: Uint8Array[] = [];

/** Write `batch` in order: a lone chunk as it is, several joined (writeGathered). */
async function writeBatch(conn: Deno.Conn, batch: Uint8Array[]): Promise<void> {
  if (batch.length === 1) return await writeAll(conn, batch[0]);
  const join = joins.pop() ?? new Uint8Array(JOIN);
  try {
    await writeGathered(conn, batch, join);
  } finally {
    giveBack([join]);
  }
}

/** Return join buffers to the pool, as far as it keeps them. */
function giveBack(buffers: Uint8Array[]): void {
  for (const b of buffers) if (joins.length < JOINS_KEPT) joins.push(b);
}

/**
 * How long a tunneled connection may go on writing what the SSH peer sent
 * after its connection set closes (the SSH connection ended, or the tunnel
 * was stopped): a peer that sent EOF or CHANNEL_CLOSE and hung up at once has
 * finished its stream, and every byte of it is still delivered.
 */
export const DELIVERY_GRACE_MS = 10_000;

interface Delivering {
  /** The peer ended its side and some of what it sent is not written yet. */
  delivering(): boolean;
  /** Let the pump finish its writes, closing after `ms` at the latest. */
  closeWithin(ms: number): void;
}
const pumps = new WeakMap<object, Delivering>();

/**
 * End `conn` for a closing connection set: at once, unless a pump is still
 * writing the rest of a stream the SSH peer has ended (EOF or CLOSE); then
 * when that is written (the pump closes it), or after `graceMs`.
 */
export function endConnection(conn: { close(): void }, graceMs = DELIVERY_GRACE_MS): void {
  const p = pumps.get(conn);
  if (p?.delivering()) p.closeWithin(graceMs);
  else closeQuietly(conn);
}

export function pump(conn: Deno.Conn, channel: Duplex): Promise<PumpResult> {
  const result: PumpResult = { sent: 0, received: 0 };
  let finished = false;
  let localEof = false;
  let remoteEof = false;
  /** ssh2 has sent every byte we gave it, then CHANNEL_EOF. */
  let flushed = false;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => resolveDone = r);

  let grace: ReturnType<typeof setTimeout> | undefined;
  const finish = (error?: Error) => {
    if (finished) return;
    finished = true;
    detachSink?.();
    clearTimeout(grace);
    pumps.delete(conn);
    if (error) result.error = error;
    trafficMoved(result.sent + result.received);
    closeQuietly(conn);
    if (error) channel.destroy();
    else if (!localEof && !channel.destroyed) channel.end();
    else if (localEof && remoteEof) {
      // Both directions ended: say so with CHANNEL_CLOSE rather than waiting
      // for the server to (RFC 4254 5.3 lets either side close first).
      (channel as Duplex & { close?: () => void }).close?.();
    }
    resolveDone();
  };
  const maybeDone = () => {
    if (localEof && remoteEof && flushed && !writing) finish();
  };

  // Channel → local, in order. Packets that arrive while a write is in flight
  // (a download brings eight per SSH read) wait in `pending` and go out
  // together in one write. Packets of COPY_BELOW or more are copied at once,
  // back to back, into a pooled fill buffer (one range, one write) and
  // released, so that the SSH transport can read into its buffer again
  // (lib/net/read_lease.ts). Past HOLD_AT bytes waiting, the SSH window is
  // held: the peer can send no more than it already may, and ssh2's stream
  // never buffers (a buffered packet keeps its read buffer from reuse).
  let writing = false;
  let held = false;
  let paused = false;
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  /** The pooled buffer packets are being copied into, and the pool buffers pending lies in. */
  let fill: Uint8Array | null = null;
  let fillAt = 0;
  let filled: Uint8Array[] = [];
  let chain = Promise.resolve();
  const writeOut = async () => {
    // The rest of this SSH read's packets are delivered before this runs.
    await Promise.resolve();
    try {
      while (pending.length > 0 && !finished) {
        const batch = pending;
        const lent = filled;
        pending = [];
        pendingBytes = 0;
        filled = [];
        fill = null;
        if (held) {
          held = false;
          holdWindow(channel, 0);
        }
        if (paused) {
          paused = false;
          channel.resume();
        }
        try {
          await writeBatch(conn, batch);
        } finally {
          giveBack(lent);
        }
        for (const chunk of batch) result.received += chunk.length;
      }
    } catch (err) {
      finish(err as Error);
      return;
    } finally {
      writing = false;
    }
    if (finished) return;
    if (remoteEof) closeWrite();
  };
  /** Room for `len` bytes at the end of the fill buffer (a fresh one if it has none). */
  const fillRoom = (len: number): Uint8Array | undefined => {
    if (fill !== null && fillAt + len > fill.length) fill = null;
    if (fill === null) {
      if (len > JOIN) return undefined;
      fill = joins.pop() ?? new Uint8Array(JOIN);
      fillAt = 0;
      filled.push(fill);
    }
    return fill.subarray(fillAt, fillAt + len);
  };
  const append = (piece: Uint8Array) => {
    pending.push(piece);
    pendingBytes += piece.length;
    if (pendingBytes >= HOLD_AT) {
      // Hold the SSH window (the peer stops once it has sent it), or, on a
      // stream that is not an ssh2 channel, pause it.
      if (holdWindow(channel, pendingBytes)) held = true;
      else if (!paused) {
        paused = true;
        channel.pause();
      }
    }
    if (!writing) {
      writing = true;
      chain = writeOut();
    }
  };
  const onData = (chunk: Buffer) => {
    let piece: Uint8Array = chunk;
    if (chunk.length >= COPY_BELOW || fill !== null) {
      const room = fillRoom(chunk.length);
      if (room !== undefined) {
        room.set(chunk);
        fillAt += chunk.length;
        piece = room;
        release(chunk);
      }
    }
    append(piece);
  };
  // Packets the SSH transport decrypts straight into the fill buffer
  // (attachSink): only while nothing waits in the channel's stream, so that
  // they cannot overtake data ssh2 delivered before them.
  const detachSink = attachSink(channel, {
    room: (len) =>
      finished || remoteEof || paused || channel.readableLength > 0 ||
        channel.readableFlowing !== true
        ? undefined
        : fillRoom(len),
    commit: (len) => {
      const piece = fill!.subarray(fillAt, fillAt + len);
      fillAt += len;
      append(piece);
      dataArrived(channel, len);
    },
  });
  const closeWrite = () => {
    // Both directions have ended: close() says FIN as shutdown() would.
    if (localEof) return maybeDone();
    // The socket may be gone already; the read side will notice.
    conn.closeWrite().catch(() => {}).finally(maybeDone);
  };
  channel.on("data", onData);
  // ssh2's incoming state: "eof" or "closed" once the peer has said so (a
  // stream without one has ended only when its 'end' came).
  const inputEnded = () => {
    const state = (channel as Duplex & { incoming?: { state?: string } }).incoming?.state;
    return remoteEof || (state !== undefined && state !== "open");
  };
  pumps.set(conn, {
    delivering: () => !finished && inputEnded() && (writing || channel.readableLength > 0),
    closeWithin: (ms) => {
      grace ??= setTimeout(() => finish(new Error(`not all delivered in ${ms} ms`)), ms);
    },
  });
  channel.once("finish", () => {
    flushed = true;
    maybeDone();
  });
  channel.once("end", () => {
    remoteEof = true;
    if (!writing) closeWrite();
  });
  channel.once("error", (err: Error) => finish(err));
  // A channel whose EOF was read before the pump started (a -R socks/ client
  // that half-closed during its handshake): 'end' has fired already.
  if (channel.readableEnded) {
    remoteEof = true;
    closeWrite();
  }
  channel.once("close", () => {
    // Closed (by the peer, or by us in finish()): nothing more can move. What
    // the channel delivered is still written out first; local bytes that
    // ssh2 could not send yet are lost, and that is an error.
    const lost = !remoteEof
      ? "channel closed"
      : localEof && !flushed
      ? "channel closed before all data was sent"
      : undefined;
    chain.then(() => finish(lost === undefined ? undefined : new Error(lost)));
  });

  // Local → channel, each read waiting until the channel has taken the last.
  (async () => {
    let buf = new Uint8Array(MIN_READ);
    for (;;) {
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch (err) {
        finish(err as Error);
        return;
      }
      if (finished) return;
      if (n === null) {
        localEof = true;
        channel.end();
        maybeDone();
        return;
      }
      const size = nextReadSize(n, buf.length, MIN_READ, MAX_READ);
      let chunk: Buffer;
      if (n < COPY_BELOW) {
        chunk = copyBytes(buf.subarray(0, n));
        if (size !== buf.length) buf = new Uint8Array(size);
      } else {
        chunk = Buffer.from(buf.buffer, 0, n);
      }
      result.sent += n;
      // ssh2 seals what the window lets through at once and keeps the rest of
      // the chunk until the peer opens the window; the next read waits until
      // it holds none. Waiting only for 'drain' let its stream take 2 MiB
      // (its high-water mark) per channel, and each window the peer granted
      // then sealed all it could, whatever the SSH socket held: eight uploads
      // kept up to 16 MiB of sealed packets waiting to be written, and
      // allocated a read buffer for every chunk left partly unsent.
      const handed = handedOver(channel, chunk);
      if (handed !== true && !await handed) return; // closed: 'close' handles it
      // Nothing held any more: the same buffer can be read into again.
      if (n >= COPY_BELOW && size !== buf.length) buf = new Uint8Array(size);
      // The SSH connection's socket has a backlog (its peer reads slower than
      // the windows of all its channels let warren send): what comes next
      // waits in the local socket, not as sealed packets in warren's memory.
      const backlog = socketBacklog(channel);
      if (backlog !== undefined) {
        await backlog;
        if (finished) return;
      }
    }
  })();

  return done.then(() => result);
}

/**
 * Write `chunk` to `stream`: true if the stream took all of it at once (ssh2
 * sealed it into packets), else a promise that resolves true once it has
 * (the write's callback), false if the stream closes first.
 */
function handedOver(stream: Duplex, chunk: Buffer): true | Promise<boolean> {
  let taken: ((ok: boolean) => void) | undefined;
  // Node calls a write's callback on a later tick, never within write().
  stream.write(chunk, (err?: Error | null) => taken?.(!err));
  if (stream.writableLength === 0) return true;
  return new Promise((resolve) => {
    const onClose = () => settle(false);
    const settle = (ok: boolean) => {
      taken = undefined;
      stream.off("close", onClose);
      resolve(ok);
    };
    taken = settle;
    stream.once("close", onClose);
  });
}
