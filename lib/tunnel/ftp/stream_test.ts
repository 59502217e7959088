import assert from "node:assert/strict";
import { Duplex } from "node:stream";
import { channelStream } from "./stream.ts";

/** A channel whose writes wait for window, like ssh2's, and whose destroy drops what waits. */
class WindowedChannel extends Duplex {
  sent: string[] = [];
  #waiting: { data: string; cb: () => void }[] = [];
  override _read(): void {}
  override _write(chunk: Uint8Array, _enc: string, cb: () => void): void {
    this.#waiting.push({ data: new TextDecoder().decode(chunk), cb });
  }
  grant(): void {
    for (const w of this.#waiting.splice(0)) {
      if (this.destroyed) return;
      this.sent.push(w.data);
      w.cb();
    }
  }
  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    this.#waiting = [];
    cb(err);
  }
}

Deno.test("channelStream: close() after our EOF waits until the last reply has gone out", async () => {
  const channel = new WindowedChannel();
  const stream = channelStream(channel);
  const written = stream.write(new TextEncoder().encode("221 Goodbye.\r\n"));
  await stream.closeWrite();
  stream.close();
  assert.equal(channel.destroyed, false, "still holding a reply");
  channel.grant();
  await written;
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(channel.sent, ["221 Goodbye.\r\n"]);
  assert.equal(channel.destroyed, true);
});

Deno.test("channelStream: close() without our EOF (an abort) closes at once", () => {
  const channel = new WindowedChannel();
  const stream = channelStream(channel);
  stream.write(new TextEncoder().encode("150 Here it comes.\r\n")).catch(() => {});
  stream.close();
  assert.equal(channel.destroyed, true);
});
