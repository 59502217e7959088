/**
 * An SSH channel (a Node Duplex from ssh2) read and written like a Deno
 * connection, for code written against Deno.Conn that has to run on a
 * forwarded channel: the proxy handshake of `-R socks/`.
 *
 * - `read()` takes at most what it is given room for; the rest of a chunk
 *   waits in `#pending`, and the channel stays paused while anything does,
 *   so the SSH window still bounds what the peer can send.
 * - `detach()` hands the channel back for `pump()`: it returns the bytes read
 *   from the channel but not yet returned by `read()`, and whether the peer
 *   already sent EOF (then 'end' has fired here and will not fire again).
 *   The channel is left paused; the caller resumes it once its own listeners
 *   are on.
 */
import type { Buffer } from "node:buffer";
import type { Duplex } from "node:stream";
import { copyBytes } from "../net/io.ts";

export class ChannelConn {
  readonly channel: Duplex;
  #pending: Uint8Array[] = [];
  #ended = false;
  #error: Error | undefined;
  #closed = false;
  #wake: (() => void) | undefined;
  #onData = (chunk: Buffer) => {
    this.#pending.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
    this.channel.pause();
    this.#notify();
  };
  #onEnd = () => {
    this.#ended = true;
    this.#notify();
  };
  #onClose = () => {
    this.#closed = true;
    this.#notify();
  };
  #onError = (err: Error) => {
    this.#error = err;
    this.#notify();
  };

  constructor(channel: Duplex) {
    this.channel = channel;
    channel.pause();
    channel.on("data", this.#onData);
    channel.on("end", this.#onEnd);
    channel.on("close", this.#onClose);
    channel.on("error", this.#onError);
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Up to `buf.length` bytes, or null at EOF; throws when the channel failed. */
  async read(buf: Uint8Array): Promise<number | null> {
    for (;;) {
      const head = this.#pending[0];
      if (head) {
        const n = Math.min(buf.length, head.length);
        buf.set(head.subarray(0, n));
        if (n === head.length) this.#pending.shift();
        else this.#pending[0] = head.subarray(n);
        return n;
      }
      if (this.#error) throw this.#error;
      if (this.#ended || this.#closed) return null;
      const woken = new Promise<void>((r) => this.#wake = r);
      this.channel.resume();
      await woken;
    }
  }

  /** Write all of `data` (waiting for the SSH window); throws once the channel is gone. */
  write(data: Uint8Array): Promise<number> {
    if (this.#closed || this.channel.destroyed) {
      return Promise.reject(new Error("channel closed"));
    }
    return new Promise((resolve, reject) => {
      this.channel.write(copyBytes(data), (err) => {
        if (err) reject(err);
        else resolve(data.length);
      });
    });
  }

  /** Send EOF. */
  closeWrite(): Promise<void> {
    if (!this.channel.destroyed) this.channel.end();
    return Promise.resolve();
  }

  /** Close the channel. */
  close(): void {
    this.channel.destroy();
    this.#onClose();
  }

  /** Stop listening; see the module comment. */
  detach(): { pending: Uint8Array[]; ended: boolean } {
    this.channel.off("data", this.#onData);
    this.channel.off("end", this.#onEnd);
    this.channel.off("close", this.#onClose);
    this.channel.off("error", this.#onError);
    const pending = this.#pending;
    this.#pending = [];
    return { pending, ended: this.#ended };
  }
}
