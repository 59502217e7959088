/**
 * One read/write interface over the two kinds of stream an FTP control
 * connection runs on: a local TCP connection (Deno.Conn) and an SSH channel
 * (a Node Duplex). The control relay reads a chunk, hands it to the
 * rewriter, writes the result: control traffic is small, so clarity wins.
 *
 * - Local side: `conn.read()` (never `conn.readable`, whose EOF closes the
 *   whole socket, deno#27510), so half-close keeps working.
 * - Channel side: 'data' is queued with the channel paused until the queue is
 *   read, so a fast peer cannot fill memory; writes wait for 'drain'.
 */
import type { Buffer } from "node:buffer";
import type { Duplex } from "node:stream";
import { closeQuietly, copyBytes, writeAll } from "../../net/io.ts";

export interface ControlStream {
  /** The next chunk, or null at EOF. */
  read(): Promise<Uint8Array | null>;
  write(bytes: Uint8Array): Promise<void>;
  /** Send EOF; the other direction stays open. */
  closeWrite(): Promise<void>;
  /** Close both directions: now, or after our EOF has gone out if it was sent. */
  close(): void;
}

const READ_SIZE = 16 * 1024;

export function connStream(conn: Deno.Conn): ControlStream {
  const buf = new Uint8Array(READ_SIZE);
  return {
    async read() {
      const n = await conn.read(buf);
      return n === null ? null : buf.slice(0, n);
    },
    write: (bytes) => writeAll(conn, bytes),
    closeWrite: () => conn.closeWrite(),
    close: () => closeQuietly(conn),
  };
}

export function channelStream(channel: Duplex): ControlStream {
  const queue: Uint8Array[] = [];
  let ended = false;
  let error: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  channel.on("data", (chunk: Buffer) => {
    queue.push(new Uint8Array(chunk));
    channel.pause();
    notify();
  });
  channel.once("end", () => {
    ended = true;
    notify();
  });
  channel.once("close", () => {
    ended = true;
    notify();
  });
  channel.on("error", (err: Error) => {
    error ??= err;
    notify();
  });
  return {
    async read() {
      for (;;) {
        const chunk = queue.shift();
        if (chunk) {
          if (queue.length === 0 && !ended) channel.resume();
          return chunk;
        }
        if (error) throw error;
        if (ended) return null;
        await new Promise<void>((r) => wake = r);
      }
    },
    write(bytes) {
      if (channel.destroyed || channel.writableEnded) {
        return Promise.reject(error ?? new Error("channel closed"));
      }
      if (channel.write(copyBytes(bytes))) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const done = (err?: Error) => {
          channel.off("drain", onDrain);
          channel.off("close", onClose);
          if (err) reject(err);
          else resolve();
        };
        const onDrain = () => done();
        const onClose = () => done(new Error("channel closed"));
        channel.once("drain", onDrain);
        channel.once("close", onClose);
      });
    },
    closeWrite() {
      if (!channel.destroyed && !channel.writableEnded) channel.end();
      return Promise.resolve();
    },
    close() {
      // After our EOF, ssh2 may still hold bytes waiting for window; closing
      // now would drop them (as in pump.ts): close once they are sent.
      if (channel.writableEnded && !channel.writableFinished && !channel.destroyed && !error) {
        const now = () => {
          channel.off("finish", now);
          channel.off("close", now);
          channel.destroy();
        };
        channel.once("finish", now);
        channel.once("close", now);
      } else channel.destroy();
    },
  };
}
