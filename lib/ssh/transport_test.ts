import assert from "node:assert/strict";
import type { Duplex } from "node:stream";
import { DenoSocket, recycleOnWrite } from "./transport.ts";
import { readExactly } from "../../tests/_harness/local_servers.ts";

/** A connected loopback pair, the client side wrapped in a DenoSocket whose writes are counted. */
async function pair() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [client, server] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: (listener.addr as Deno.NetAddr).port }),
    listener.accept(),
  ]);
  listener.close();
  const writes: number[] = [];
  const write = client.write.bind(client);
  client.write = (p: Uint8Array) => (writes.push(p.length), write(p));
  return { sock: new DenoSocket(client), server, writes };
}

Deno.test("packets written in one turn go out in one write, in order", async () => {
  const { sock, server, writes } = await pair();
  try {
    sock.write(new Uint8Array([1, 2]));
    sock.write(new Uint8Array([3]));
    sock.write(new Uint8Array([4, 5, 6]));
    assert.deepEqual([...await readExactly(server, 6)], [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(writes, [6]);

    // A later turn is a separate write; nothing waits for more to come.
    sock.write(new Uint8Array([7]));
    assert.deepEqual([...await readExactly(server, 1), ...writes], [7, 6, 1]);
  } finally {
    sock.destroy();
    server.close();
  }
});

/** Write packets of `sizes` in one turn (bytes counting up), and check they arrive in order. */
async function writeInOrder(
  sock: { write(b: Uint8Array): boolean },
  server: Deno.Conn,
  sizes: number[],
): Promise<void> {
  let next = 0;
  for (const n of sizes) {
    sock.write(new Uint8Array(n).map((_, i) => (next + i) & 0xff));
    next += n;
  }
  const got = await readExactly(server, next);
  assert.ok(got.every((b, i) => b === (i & 0xff)), "bytes out of order");
}

Deno.test("packets written in one turn go out in one write, in order; a lone large one at once", async () => {
  const { sock, server, writes } = await pair();
  try {
    const sizes = [10, 20_000, 5, 6, 30_000, 7];
    await writeInOrder(sock, server, sizes);
    assert.deepEqual(writes, [50_028], "one system call for the burst, large packets too");

    // A large packet first in its turn is not held back for the small ones after it.
    writes.length = 0;
    sock.write(new Uint8Array(20_000));
    assert.deepEqual(writes, [20_000]);
    sock.write(new Uint8Array(5));
    sock.write(new Uint8Array(6));
    await readExactly(server, 20_011);
    assert.deepEqual(writes, [20_000, 11]);
  } finally {
    sock.destroy();
    server.close();
  }
});

Deno.test("a burst over 256 KiB goes out in writes of up to 256 KiB, in order", async () => {
  const { sock, server, writes } = await pair();
  try {
    const sizes = [10, ...Array(10).fill(32_768)];
    await writeInOrder(sock, server, sizes);
    assert.deepEqual(writes, [10 + 7 * 32_768, 3 * 32_768]);
  } finally {
    sock.destroy();
    server.close();
  }
});

Deno.test("packets back to back in one buffer go out as one range, with no copy", async () => {
  const { sock, server, writes } = await pair();
  try {
    const slab = new Uint8Array(100_000).map((_, i) => i & 0xff);
    const views = [[0, 20_000], [20_000, 30_000], [50_000, 20_000]].map(([at, n]) =>
      new Uint8Array(slab.buffer, at, n)
    );
    sock.write(new Uint8Array([9])); // a small one first: the rest wait for the end of the turn
    for (const v of views) sock.write(v);
    const got = await readExactly(server, 70_001);
    assert.equal(got[0], 9);
    assert.ok(got.subarray(1).every((b, i) => b === (i & 0xff)), "bytes out of order");
    assert.deepEqual(writes, [1, 70_000]);
  } finally {
    sock.destroy();
    server.close();
  }
});

Deno.test("end() sends what was written in the same turn, then half-closes", async () => {
  const { sock, server } = await pair();
  try {
    sock.write(new Uint8Array([9, 8]));
    sock.end();
    assert.deepEqual([...await readExactly(server, 2)], [9, 8]);
    assert.equal(await server.read(new Uint8Array(1)), null);
  } finally {
    sock.destroy();
    server.close();
  }
});

Deno.test("recycleOnWrite: packets a plain stream has taken go back to their slab, which later packets reuse", async () => {
  const { Writable } = await import("node:stream");
  const { createSealer } = await import("./crypto/ciphers.ts");
  const { loadBuiltin } = await import("./crypto/builtin.ts");
  const sealerFor = async (stream: InstanceType<typeof Writable>) =>
    createSealer({
      outbound: {
        onWrite: (d: Uint8Array) => void stream.write(d),
        cipherInfo: { sslName: "aes-128-gcm" },
        cipherKey: new Uint8Array(16),
        cipherIV: new Uint8Array(12),
        seqno: 0,
      },
    }, await loadBuiltin());
  /** The slabs (ArrayBuffers) 32 batches of seven 32 KiB packets are sealed into. */
  const slabsUsed = async (recycled: boolean) => {
    // Takes each packet at once, as a jump host's channel does with window to spare.
    const stream = new Writable({ write: (_chunk, _enc, cb) => cb() });
    if (recycled) recycleOnWrite(stream as unknown as Duplex);
    const sealer = await sealerFor(stream);
    const slabs = new Set<ArrayBufferLike>();
    for (let batch = 0; batch < 32; batch++) {
      for (let i = 0; i < 7; i++) {
        const packet = sealer.allocPacket(32 * 1024);
        slabs.add(packet.buffer);
        sealer.encrypt(packet);
      }
      // The stream's callbacks come on a later tick.
      await new Promise((r) => setTimeout(r, 0));
    }
    sealer.free();
    stream.destroy();
    return slabs.size;
  };
  // Without it every batch needs a fresh slab; with it a few go round (the
  // pool keeps up to 16, shared with the rest of the process).
  assert.equal(await slabsUsed(false), 32);
  const withRecycling = await slabsUsed(true);
  assert.ok(withRecycling <= 4, `${withRecycling} slabs`);
});
