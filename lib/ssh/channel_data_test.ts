import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { channelDataPatched, EXPECTED_SOURCE, originalChannelData } from "./channel_data.ts";
// ssh2 internals; no types.
import protocolModule from "ssh2/lib/protocol/Protocol.js";
import zlibModule from "ssh2/lib/protocol/zlib.js";

// deno-lint-ignore no-explicit-any
const Protocol = protocolModule as any;
// deno-lint-ignore no-explicit-any
const { PacketWriter } = zlibModule as any;

/** A stand-in for ssh2's protocol object with what channelData() touches, recording what it does. */
function protocol(
  { kex = false, debug = false, compressed = false, sealer = true } = {},
) {
  const did: string[] = [];
  const cipher = {
    allocPacket: (n: number) => Buffer.alloc(5 + n + 4),
    // The message type, where the writer put the payload.
    encrypt: (packet: Uint8Array) =>
      did.push(`encrypt ${packet[compressed ? 0 : 5] === 94 ? "CHANNEL_DATA" : "?"}`),
    channelData: sealer
      ? (chan: number, data: Uint8Array) => did.push(`sealed ${chan} ${data.length}`)
      : undefined,
  };
  const p = {
    _kexinit: kex ? {} : undefined,
    _debug: debug ? () => {} : undefined,
    _cipher: cipher,
    _queue: undefined as unknown[] | undefined,
    _packetRW: { write: undefined as unknown },
  };
  p._packetRW.write = compressed
    ? { allocStart: 0, alloc: (n: number) => Buffer.alloc(n), finalize: (b: Buffer) => b }
    : new PacketWriter(p);
  // ssh2 frames payloads from byte 0 while a key exchange is under way.
  if (kex) (p._packetRW.write as { allocStart: number }).allocStart = 0;
  return { p, did, queued: () => p._queue?.length ?? 0 };
}

const send = (p: unknown, chan: number, data: Uint8Array | string) =>
  Protocol.prototype.channelData.call(p, chan, data);

Deno.test("ssh2's Protocol.channelData() still has the source channel_data.ts replaces", () => {
  // On an ssh2 upgrade: re-read lib/protocol/Protocol.js channelData(); if it
  // changed, re-check the replacement and update EXPECTED_SOURCE.
  assert.equal(String(originalChannelData).replace(/\s+/g, " ").trim(), EXPECTED_SOURCE);
  assert.equal(channelDataPatched, true);
  assert.notEqual(Protocol.prototype.channelData, originalChannelData);
});

Deno.test("channelData() hands a Buffer to warren's sealer when ssh2 would seal it at once", () => {
  const { p, did } = protocol();
  send(p, 7, Buffer.alloc(1000));
  assert.deepEqual(did, ["sealed 7 1000"]);
});

Deno.test("channelData() is ssh2's own during a key exchange, with compression, debug output, a string or ssh2's ciphers", () => {
  // A key exchange: ssh2 queues the packet, sealed later with the new keys.
  const kex = protocol({ kex: true });
  send(kex.p, 7, Buffer.alloc(100));
  assert.deepEqual(kex.did, []);
  assert.equal(kex.queued(), 1);
  for (
    const [what, options, data] of [
      ["compression", { compressed: true }, Buffer.alloc(100)],
      ["debug output", { debug: true }, Buffer.alloc(100)],
      ["a string", {}, "x".repeat(100)],
      ["ssh2's ciphers", { sealer: false }, Buffer.alloc(100)],
    ] as const
  ) {
    const { p, did } = protocol(options);
    send(p, 7, data);
    assert.deepEqual(did, ["encrypt CHANNEL_DATA"], what);
  }
});
