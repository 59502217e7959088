/**
 * The tunnel data path's buffers and flow control, against the in-process
 * ssh2 server. Downloads: the SSH socket's read buffers are read into again
 * when the tunnel pump took their packets (copied, or decrypted straight
 * into its buffers), never when a reader keeps its chunks; a local reader that does not read holds the channel's window,
 * so the far sender stalls instead of filling warren's memory. Uploads: an
 * SSH peer that reads slowly stops warren reading its local sockets, instead
 * of warren queueing every window's worth of sealed packets.
 */
import assert from "node:assert/strict";
import type { Buffer } from "node:buffer";
import { connectSsh } from "../lib/ssh/connection.ts";
import { leaseCounts } from "../lib/net/read_lease.ts";
import { sinkCount } from "../lib/ssh/transport.ts";
import { activeCrypto } from "../lib/ssh/crypto/hook.ts";
import { startTestServer } from "./_harness/ssh_server.ts";
import { writeAll } from "../lib/net/io.ts";
import { sshOptions, tunnelTo } from "./_harness/real_peers.ts";
import {
  assertSameBytes,
  readAll,
  readThenSend,
  startSpeakFirstServer,
  testBytes,
} from "./_harness/local_servers.ts";

const MiB = 1024 * 1024;

Deno.test("a download through the pump reads into the same SSH buffers; a reader that keeps its chunks gets them intact", async () => {
  const data = testBytes(32 * MiB + 7, 21);
  await using server = await startTestServer();
  await using origin = startSpeakFirstServer(data);
  await using ssh = await connectSsh(sshOptions(server, { connectTimeout: 5 }));

  // Through a tunnel: the pump copies each packet out as it arrives.
  const tunnel = tunnelTo(ssh, origin.port);
  await tunnel.start();
  try {
    const before = leaseCounts();
    const sunkBefore = sinkCount();
    const got = await readThenSend(tunnel.addresses[0].port, new Uint8Array(0));
    assertSameBytes(got, data);
    const lent = leaseCounts().lent - before.lent;
    const reused = leaseCounts().reused - before.reused;
    assert.ok(lent > 32, `only ${lent} large reads`);
    assert.ok(reused * 2 > lent, `${reused} of ${lent} read buffers reused`);
    // With libcrypto, most packets were decrypted straight into the pump's
    // buffers (32 MiB is over 1,000 packets of 32 KiB).
    if (activeCrypto().primitives.name === "openssl") {
      const sunk = sinkCount() - sunkBefore;
      assert.ok(sunk > 500, `${sunk} packets decrypted into the pump's buffers`);
    }
  } finally {
    await tunnel.close();
  }

  // A plain channel reader that keeps every chunk as ssh2 gave it.
  const before = leaseCounts();
  const sunkBefore = sinkCount();
  const channel = await ssh.openDirect("127.0.0.1", 1, "127.0.0.1", origin.port);
  const chunks: Buffer[] = [];
  channel.on("data", (chunk: Buffer) => chunks.push(chunk));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const ended = await Promise.race([
    new Promise<boolean>((resolve) => channel.once("end", () => resolve(true))),
    new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), 30_000)),
  ]);
  clearTimeout(timer);
  channel.end();
  channel.destroy();
  const joined = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    joined.set(c, at);
    at += c.length;
  }
  assertSameBytes(joined, data.subarray(0, joined.length), "a kept chunk was overwritten");
  assert.ok(ended, `the channel did not end in 30 s (${joined.length} bytes came)`);
  assert.equal(joined.length, data.length);
  // Reused here: only reads that held no whole packet (the opener copies a
  // packet split across reads): how many depends on how the kernel splits
  // the stream (2 to 22 of about 150 in 14 runs; every one if the lease
  // ignored the kept chunks).
  const lent = leaseCounts().lent - before.lent;
  const reused = leaseCounts().reused - before.reused;
  assert.ok(lent > 32 && reused * 4 < lent, `${reused} of ${lent} read buffers reused`);
  assert.equal(sinkCount(), sunkBefore, "a channel without a pump has no sink");
});

Deno.test("a local reader that does not read holds the window: the far sender stalls, then every byte arrives", async () => {
  const data = testBytes(128 * MiB, 22);
  let sent = 0;
  const origin = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    const conn = await origin.accept();
    try {
      while (sent < data.length) sent += await conn.write(data.subarray(sent));
    } finally {
      conn.close();
    }
  })();
  await using server = await startTestServer();
  await using ssh = await connectSsh(sshOptions(server, { connectTimeout: 5 }));
  const tunnel = tunnelTo(ssh, origin.addr.port);
  await tunnel.start();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: tunnel.addresses[0].port });
  try {
    // Not read for a second: what the origin could write is bounded by the
    // SSH window, what warren holds before it stops topping the window up,
    // and the socket buffers of the four sockets on the way.
    await new Promise((r) => setTimeout(r, 1000));
    const early = sent;
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(sent, early, "the origin was still sending after a second");
    assert.ok(sent < 48 * MiB, `the origin wrote ${sent / MiB} MiB to a reader that never read`);
    const got = await readAll(conn);
    assertSameBytes(got, data);
  } finally {
    conn.close();
    await tunnel.close();
    origin.close();
    await serving;
  }
});

Deno.test("uploads into an SSH peer that stops reading wait in their local sockets, not in warren", async () => {
  const uploads = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => testBytes(6 * MiB + i, 30 + i));
  await using server = await startTestServer();
  await using link = startGatedRelay(server.port);
  const knownHosts = `${server.dir}/known_hosts_gated`;
  const line = await Deno.readTextFile(server.knownHosts);
  await Deno.writeTextFile(knownHosts, line.replace(`]:${server.port} `, `]:${link.port} `));
  const received: Uint8Array[] = [];
  const sink = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const sinking = (async () => {
    const reads: Promise<void>[] = [];
    for (let i = 0; i < uploads.length; i++) {
      const conn = await sink.accept();
      reads.push(readAll(conn).then((b) => void received.push(b)).finally(() => conn.close()));
    }
    await Promise.all(reads);
  })();
  await using ssh = await connectSsh(
    sshOptions({ ...server, port: link.port, knownHosts }, { connectTimeout: 5 }),
  );
  const tunnel = tunnelTo(ssh, sink.addr.port);
  await tunnel.start();
  const sock = (ssh.client as unknown as { _sock: { writableLength: number } })._sock;
  try {
    const sending = uploads.map((data) => upload(tunnel.addresses[0].port, data));
    // Eight channels with 2 MiB windows each: without the backlog check,
    // warren queued what the kernel's buffers could not take as sealed
    // packets (16 MiB here). With it: under 3 MiB, 1 MiB and what each channel
    // had in hand (its last read, and what its window let through once the
    // peer's adjusts came).
    await new Promise((r) => setTimeout(r, 100));
    link.stop();
    let most = 0;
    for (let t = 0; t < 40; t++) {
      await new Promise((r) => setTimeout(r, 25));
      most = Math.max(most, sock.writableLength);
    }
    link.go();
    await Promise.all(sending);
    await sinking;
    assert.ok(most < 8 * MiB, `${(most / MiB).toFixed(1)} MiB queued on the SSH socket`);
    assertEachArrived(received, uploads);
  } finally {
    await tunnel.close();
    sink.close();
  }
});

Deno.test("uploads whose windows are used up: each channel holds at most its last read, then every byte arrives", async () => {
  // The SSH peer reads its socket, but the destination does not read, so the
  // windows run out with the SSH socket empty. Each channel's stream then
  // holds the rest of one local read (up to 256 KiB); waiting for its
  // 'drain' instead let each take its high-water mark, 2 MiB, and every
  // window the peer granted later sealed all of that at once.
  // Large enough to fill the destination's socket buffers and then the windows.
  const uploads = [0, 1, 2, 3].map((i) => testBytes(24 * MiB + i, 40 + i));
  await using server = await startTestServer();
  const sink = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for (let i = 0; i < uploads.length; i++) accepted.push(await sink.accept());
  })();
  await using ssh = await connectSsh(sshOptions(server, { connectTimeout: 5 }));
  const tunnel = tunnelTo(ssh, sink.addr.port);
  await tunnel.start();
  const client = ssh.client as unknown as {
    _chanMgr: { _channels: Record<number, { writableLength?: number } | true> };
  };
  const inChannels = () => {
    let held = 0;
    for (const ch of Object.values(client._chanMgr._channels)) {
      if (ch !== true) held += ch.writableLength ?? 0;
    }
    return held;
  };
  try {
    const sending = uploads.map((data) => upload(tunnel.addresses[0].port, data));
    await accepting;
    let held = 0;
    for (let t = 0; t < 80; t++) {
      await new Promise((r) => setTimeout(r, 25));
      held = Math.max(held, inChannels());
    }
    const received = await Promise.all(accepted.map(async (conn) => {
      try {
        return await readAll(conn);
      } finally {
        conn.close();
      }
    }));
    await Promise.all(sending);
    assert.ok(held > 0, "the windows never ran out: the test shows nothing");
    assert.ok(
      held <= uploads.length * 256 * 1024,
      `${(held / MiB).toFixed(1)} MiB held in the channels`,
    );
    assertEachArrived(received, uploads);
  } finally {
    await tunnel.close();
    sink.close();
  }
});

/** Send `data` through the tunnel on `port`, half-close, and wait for the far end to close. */
async function upload(port: number, data: Uint8Array): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(conn, data);
    await conn.closeWrite();
    await readAll(conn);
  } finally {
    conn.close();
  }
}

/** Every upload arrived whole (they differ in length, and arrive in any order). */
function assertEachArrived(received: Uint8Array[], uploads: Uint8Array[]): void {
  const byLength = new Map(received.map((b) => [b.length, b]));
  for (const data of uploads) {
    assertSameBytes(byLength.get(data.length) ?? new Uint8Array(0), data);
  }
}

/** A relay to 127.0.0.1:`port` whose client-to-server direction stops reading on stop() until go(). */
function startGatedRelay(port: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  let gate: PromiseWithResolvers<void> | undefined;
  const copy = async (from: Deno.Conn, to: Deno.Conn, gated: boolean) => {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        if (gated && gate) await gate.promise;
        const n = await from.read(buf);
        if (n === null) break;
        await writeAll(to, buf.subarray(0, n));
      }
      await to.closeWrite();
    } catch { /* closed */ }
  };
  const copies: Promise<void>[] = [];
  const serving = (async () => {
    for await (const inbound of listener) {
      const outbound = await Deno.connect({ hostname: "127.0.0.1", port });
      conns.push(inbound, outbound);
      copies.push(copy(inbound, outbound, true), copy(outbound, inbound, false));
    }
  })().catch(() => {});
  const close = async () => {
    gate?.resolve();
    listener.close();
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await serving;
    await Promise.all(copies);
  };
  return {
    port: listener.addr.port,
    stop: () => void (gate = Promise.withResolvers<void>()),
    go: () => {
      gate?.resolve();
      gate = undefined;
    },
    [Symbol.asyncDispose]: close,
  };
}
