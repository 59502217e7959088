/**
 * The download path (SSH connection → channel → local socket) against the
 * in-process ssh2 server: the SSH socket's read buffers are read into again
 * when the tunnel pump copied their packets out, never when a reader keeps
 * its chunks; and a local reader that does not read holds the channel's
 * window, so the far sender stalls instead of filling warren's memory.
 */
import assert from "node:assert/strict";
import type { Buffer } from "node:buffer";
import { connectSsh } from "../lib/ssh/connection.ts";
import { LocalTunnel } from "../lib/tunnel/local.ts";
import { ActivityTracker } from "../lib/tunnel/activity.ts";
import { leaseCounts } from "../lib/net/read_lease.ts";
import { startTestServer } from "./_harness/ssh_server.ts";
import { sshOptions } from "./_harness/real_peers.ts";
import {
  readAll,
  readThenSend,
  startSpeakFirstServer,
  testBytes,
} from "./_harness/local_servers.ts";

const MiB = 1024 * 1024;

function tunnelTo(ssh: Awaited<ReturnType<typeof connectSsh>>, dstPort: number): LocalTunnel {
  return new LocalTunnel(
    { protocol: "tcp", listenAddress: "127.0.0.1", listenPort: 0, dstHost: "127.0.0.1", dstPort },
    false,
    (a, b, c, d) => ssh.openDirect(a, b, c, d),
    new ActivityTracker(),
  );
}

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
    const got = await readThenSend(tunnel.addresses[0].port, new Uint8Array(0));
    assert.deepEqual(got, data);
    const lent = leaseCounts().lent - before.lent;
    const reused = leaseCounts().reused - before.reused;
    assert.ok(lent > 32, `only ${lent} large reads`);
    assert.ok(reused * 2 > lent, `${reused} of ${lent} read buffers reused`);
  } finally {
    await tunnel.close();
  }

  // A plain channel reader that keeps every chunk as ssh2 gave it.
  const before = leaseCounts();
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
  assert.deepEqual(joined, data.subarray(0, joined.length), "a kept chunk was overwritten");
  assert.ok(ended, `the channel did not end in 30 s (${joined.length} bytes came)`);
  assert.equal(joined.length, data.length);
  // Reused here: only reads that held no whole packet (the opener copies a
  // packet split across reads).
  const lent = leaseCounts().lent - before.lent;
  const reused = leaseCounts().reused - before.reused;
  assert.ok(lent > 32 && reused * 8 < lent, `${reused} of ${lent} read buffers reused`);
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
    assert.equal(got.length, data.length);
    assert.deepEqual(got, data);
  } finally {
    conn.close();
    await tunnel.close();
    origin.close();
    await serving;
  }
});
