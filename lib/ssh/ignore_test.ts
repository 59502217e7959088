import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { ignoresSent, sendIgnore } from "./ignore.ts";
// ssh2 internals; no types.
import zlibModule from "ssh2/lib/protocol/zlib.js";

// deno-lint-ignore no-explicit-any
const { PacketWriter } = zlibModule as any;

function protocol({ kex = false, compressed = false } = {}) {
  const sealed: Buffer[] = [];
  const p = {
    _kexinit: kex ? {} : undefined,
    _cipher: {
      // As ssh2's ciphers lay a packet out: length, padding length, payload, padding.
      allocPacket: (n: number) => Buffer.alloc(4 + 1 + n + 4),
      encrypt: (packet: Buffer) => sealed.push(packet),
    },
    _packetRW: { write: undefined as unknown },
  };
  p._packetRW.write = compressed ? { allocStart: 0 } : new PacketWriter(p);
  return { p, sealed };
}

Deno.test("sendIgnore() seals an empty SSH_MSG_IGNORE through the connection's cipher", () => {
  const { p, sealed } = protocol();
  const before = ignoresSent();
  assert.equal(sendIgnore(p), true);
  assert.equal(sealed.length, 1);
  assert.deepEqual([...sealed[0].subarray(5, 10)], [2, 0, 0, 0, 0]);
  assert.equal(ignoresSent() - before, 1);
});

Deno.test("sendIgnore() sends nothing during a key exchange, with compression or before a protocol exists", () => {
  for (const options of [{ kex: true }, { compressed: true }]) {
    const { p, sealed } = protocol(options);
    assert.equal(sendIgnore(p), false, JSON.stringify(options));
    assert.equal(sealed.length, 0);
  }
  assert.equal(sendIgnore(undefined), false);
});
