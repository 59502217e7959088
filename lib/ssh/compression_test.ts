/**
 * compression.ts: the zlib stream on node:zlib's handle and its place inside
 * ssh2. warren's client and server compressing to each other in-process are
 * in tests/compression_inprocess_test.ts; real clients and OpenSSH's sshd in
 * tests/compression_test.ts.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import zlib from "node:zlib";
// ssh2 internals; no types.
import ssh2Zlib from "ssh2/lib/protocol/zlib.js";
import {
  compressionUnavailable,
  MAX_INFLATED_PACKET,
  offeredCompression,
  originalSsh2Zlib,
  warrenZlibClasses,
  ZlibStream,
} from "./compression.ts";
import { logText as text } from "../../tests/_harness/text.ts";

Deno.test("ZlibStream: packets form one zlib stream that zlib's own inflate reads", () => {
  const deflate = new ZlibStream("deflate");
  try {
    const packets = [text(3000, 1), text(3000, 1), Buffer.alloc(0), text(40_000, 2)];
    const compressed = packets.map((p) => deflate.write(p));
    // The second packet repeats the first: the stream remembers it.
    assert.ok(
      compressed[1].length * 10 < compressed[0].length,
      `${compressed.map((c) => c.length)}`,
    );
    const whole = zlib.inflateSync(Buffer.concat(compressed), {
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    assert.equal(Buffer.compare(whole, Buffer.concat(packets)), 0);
  } finally {
    deflate.close();
  }
});

Deno.test("ZlibStream: inflates a zlib stream split anywhere, across the output buffer", () => {
  const data = Buffer.concat([text(200_000, 3), Buffer.alloc(150_000, 7), text(10_000, 4)]);
  const stream = zlib.deflateSync(data);
  const inflate = new ZlibStream("inflate");
  try {
    const out: Buffer[] = [];
    for (let at = 0, step = 1; at < stream.length; at += step, step = step * 3 + 1) {
      out.push(inflate.write(stream.subarray(at, at + step)));
    }
    assert.equal(Buffer.compare(Buffer.concat(out), data), 0);
  } finally {
    inflate.close();
  }
});

Deno.test("ZlibStream: a packet that inflates past the cap is an error", () => {
  const deflate = new ZlibStream("deflate");
  const inflate = new ZlibStream("inflate");
  try {
    const bomb = deflate.write(Buffer.alloc(MAX_INFLATED_PACKET + 1));
    assert.ok(bomb.length < 2000);
    assert.throws(
      () => inflate.write(bomb, MAX_INFLATED_PACKET),
      /zlib inflate: a packet inflates to over 262144 bytes/,
    );
    // The stream stays failed.
    assert.throws(() => inflate.write(Buffer.alloc(0)), /inflates to over/);
  } finally {
    deflate.close();
    inflate.close();
  }
});

Deno.test("ZlibStream: corrupt input throws at once and leaves no error event behind", () => {
  const inflate = new ZlibStream("inflate");
  try {
    assert.throws(
      () => inflate.write(Buffer.from("this is not zlib data")),
      /^Error: zlib inflate: /,
    );
  } finally {
    inflate.close();
  }
  assert.throws(() => inflate.write(Buffer.alloc(1)), /stream is closed/);
});

Deno.test("compression.ts: ssh2 uses warren's zlib classes, and needs them under Deno", () => {
  assert.equal(compressionUnavailable, undefined);
  assert.equal(ssh2Zlib.ZlibPacketReader, warrenZlibClasses.PacketInflater);
  assert.equal(ssh2Zlib.ZlibPacketWriter, warrenZlibClasses.PacketDeflater);
  // Why this module exists: when this stops throwing, Deno runs ssh2's own
  // classes and compression.ts may be dropped (see its header).
  assert.throws(
    () => new (originalSsh2Zlib.ZlibPacketReader as new () => unknown)(),
    /expected type `v8::data::Function`/,
  );
  assert.deepEqual(offeredCompression("server"), ["none", "zlib@openssh.com"]);
  assert.deepEqual(offeredCompression("client"), ["none", "zlib@openssh.com", "zlib"]);
  assert.deepEqual(offeredCompression("client", true), ["zlib@openssh.com", "zlib", "none"]);
});
