import assert from "node:assert/strict";
import { destroyPatched, EXPECTED_BODY, originalDestroy } from "./channel_destroy.ts";
// ssh2 internals; no types.
import channelModule from "ssh2/lib/Channel.js";

// deno-lint-ignore no-explicit-any
const { Channel } = channelModule as any;

/** A client channel over a fake protocol that records what it would send. */
function channel() {
  const sent: string[] = [];
  const client = {
    _protocol: {
      channelEOF: (id: number) => sent.push(`eof ${id}`),
      channelClose: (id: number) => sent.push(`close ${id}`),
      channelData: (id: number, d: Uint8Array) => sent.push(`data ${id} ${d.length}`),
    },
  };
  const ch = new Channel(client, {
    type: "direct-tcpip",
    incoming: { id: 1, window: 1 << 20, packetSize: 32768, state: "open" },
    outgoing: { id: 7, window: 1 << 20, packetSize: 32768, state: "open" },
  });
  let ends = 0;
  const end = ch.end.bind(ch);
  ch.end = (...args: unknown[]) => (ends++, end(...args));
  return { ch, sent, ends: () => ends };
}

Deno.test("ssh2's Channel.destroy() still has the body channel_destroy.ts replaces", () => {
  // On an ssh2 upgrade: re-read lib/Channel.js destroy(); if it changed,
  // re-check the replacement and update EXPECTED_BODY.
  assert.match(String(originalDestroy), EXPECTED_BODY);
  assert.equal(destroyPatched, true);
  assert.notEqual(Channel.prototype.destroy, originalDestroy);
});

Deno.test("destroy() on an open channel sends EOF then CLOSE, as ssh2's does", () => {
  const { ch, sent, ends } = channel();
  ch.destroy();
  assert.equal(ends(), 1);
  assert.deepEqual(sent, ["eof 7", "close 7"]);
});

Deno.test("destroy() after the writable side finished does not call end() again", async () => {
  const { ch, sent, ends } = channel();
  ch.write(new Uint8Array(10));
  await new Promise<void>((resolve) => ch.end(resolve));
  assert.equal(ends(), 1);
  ch.destroy();
  // ssh2's own destroy() called end() here, which built (and dropped) an
  // ERR_STREAM_ALREADY_FINISHED error with its stack trace.
  assert.equal(ends(), 1);
  assert.deepEqual(sent, ["data 7 10", "eof 7", "close 7"]);
});
