import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Duplex } from "node:stream";
import { ChannelConn } from "./channel_conn.ts";
import { pump } from "./pump.ts";

/** A Duplex standing in for an SSH channel: `push` is what the peer sends, writes are collected. */
function fakeChannel(): Duplex & { written: Buffer[] } {
  const written: Buffer[] = [];
  const d = new Duplex({
    read() {},
    write(chunk, _enc, cb) {
      written.push(Buffer.from(chunk));
      cb();
    },
    final(cb) {
      cb();
    },
  });
  return Object.assign(d, { written });
}

Deno.test("ChannelConn reads no more than asked and hands the rest over on detach", async () => {
  const ch = fakeChannel();
  const conn = new ChannelConn(ch);
  ch.push(Buffer.from("0123456789"));
  const buf = new Uint8Array(4);
  assert.equal(await conn.read(buf), 4);
  assert.equal(new TextDecoder().decode(buf), "0123");
  assert.equal(await conn.write(new TextEncoder().encode("reply")), 5);
  assert.equal(Buffer.concat(ch.written).toString(), "reply");
  const { pending, ended } = conn.detach();
  assert.equal(ended, false);
  assert.equal(new TextDecoder().decode(Buffer.concat(pending)), "456789");
  ch.destroy();
});

Deno.test("ChannelConn: EOF after the data reads null; detach says the channel ended", async () => {
  const ch = fakeChannel();
  const conn = new ChannelConn(ch);
  ch.push(Buffer.from("abc"));
  ch.push(null);
  const buf = new Uint8Array(16);
  assert.equal(await conn.read(buf), 3);
  assert.equal(await conn.read(buf), null);
  assert.equal(conn.detach().ended, true);
  ch.destroy();
});

Deno.test("pump() with a channel already at EOF still copies the other way and finishes", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const server = await listener.accept();
  listener.close();
  const ch = fakeChannel();
  const conn = new ChannelConn(ch);
  ch.push(null);
  assert.equal(await conn.read(new Uint8Array(8)), null);
  conn.detach();
  const pumping = pump(server, ch);
  // The channel's EOF reaches the local side at once.
  assert.equal(await client.read(new Uint8Array(8)), null);
  await client.write(new TextEncoder().encode("late reply"));
  await client.closeWrite();
  const r = await pumping;
  assert.equal(r.error, undefined);
  assert.equal(Buffer.concat(ch.written).toString(), "late reply");
  client.close();
  ch.destroy();
});
