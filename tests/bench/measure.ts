/**
 * The measurements, each against one tunnel process. Every connection a
 * measurement opens is tracked and closed when it ends; a deadline closes
 * them early (and fails the measurement) so no wait is unbounded.
 */
import { cpuSeconds, memoryMiB, type Ports, type Tunnel } from "./tunnels.ts";

const HOST = "127.0.0.1";
const CHUNK = 256 * 1024;
const MiB = 1024 * 1024;
const payload = new Uint8Array(CHUNK).map((_, i) => (i * 197 + 3) & 0xff);

/** Run `fn` with a set of tracked connections, all closed at the end or on timeout. */
async function bounded<T>(
  label: string,
  ms: number,
  fn: (track: (c: Deno.TcpConn) => Deno.TcpConn) => Promise<T>,
): Promise<T> {
  const conns = new Set<Deno.TcpConn>();
  const closeAll = () => {
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    conns.clear();
  };
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    closeAll();
  }, ms);
  try {
    return await fn((c) => (conns.add(c), c));
  } catch (err) {
    if (timedOut) throw new Error(`${label}: timed out after ${Math.round(ms / 1000)} s`);
    throw err;
  } finally {
    clearTimeout(timer);
    closeAll();
  }
}

async function connect(port: number): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: HOST, port });
  conn.setNoDelay(true);
  return conn;
}

/** How a measurement reaches the helper: a -L forward, or a SOCKS5 request to the proxy. */
export type Via = "forward" | "socks";

/** A connection to the helper's `kind` port through the tunnel, ready for data. */
async function dial(tunnel: Tunnel, kind: keyof Ports, via: Via): Promise<Deno.TcpConn> {
  if (via === "forward") return await connect(tunnel.ports[kind]);
  const conn = await connect(tunnel.ports.socks);
  try {
    const port = tunnel.target[kind];
    // No authentication; CONNECT 127.0.0.1:port. Both requests in one write.
    await writeAll(conn, Uint8Array.of(5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, port >> 8, port & 0xff));
    const reply = new Uint8Array(12);
    await readExactly(conn, reply);
    if (reply[1] !== 0 || reply[3] !== 0) throw new Error(`SOCKS5 refused: ${reply.join(",")}`);
    return conn;
  } catch (err) {
    conn.close();
    throw err;
  }
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

async function readExactly(conn: Deno.Conn, buf: Uint8Array): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const n = await conn.read(buf.subarray(off));
    if (n === null) throw new Error(`EOF after ${off} of ${buf.length} bytes`);
    off += n;
  }
}

/** Send `bytes` into the sink; done when the sink has counted them all. */
async function upload(conn: Deno.TcpConn, bytes: number): Promise<void> {
  let left = bytes;
  while (left > 0) left -= await conn.write(left >= CHUNK ? payload : payload.subarray(0, left));
  await conn.closeWrite();
  const ack = new Uint8Array(8);
  await readExactly(conn, ack);
  const got = Number(new DataView(ack.buffer).getBigUint64(0));
  if (got !== bytes) throw new Error(`sink counted ${got} of ${bytes} bytes`);
}

/** Ask the source for `bytes` and read them all. */
async function download(conn: Deno.TcpConn, bytes: number): Promise<void> {
  const head = new Uint8Array(8);
  new DataView(head.buffer).setBigUint64(0, BigInt(bytes));
  await writeAll(conn, head);
  const buf = new Uint8Array(CHUNK);
  let got = 0;
  while (got < bytes) {
    const n = await conn.read(buf);
    if (n === null) throw new Error(`source EOF after ${got} of ${bytes} bytes`);
    got += n;
  }
}

export interface BulkResult {
  MiBps: number;
  /** CPU seconds of the tunnel process per GiB moved. */
  cpuPerGiB: number;
  /** CPU seconds of the sshd processes per GiB moved (shared by both tools). */
  sshdCpuPerGiB: number;
}

/** `totalBytes` split over `streams` parallel connections, up or down. */
export function bulk(
  tunnel: Tunnel,
  sshdPids: () => number[],
  direction: "up" | "down",
  streams: number,
  totalBytes: number,
  via: Via = "forward",
): Promise<BulkResult> {
  const each = Math.floor(totalBytes / streams);
  const moved = each * streams;
  // Bounded at 2 MiB/s: far below anything healthy, long enough on a loaded box.
  const limit = 30_000 + (moved / (2 * MiB)) * 1000;
  return bounded(`${direction} x${streams}`, limit, async (track) => {
    const kind = direction === "up" ? "sink" : "source";
    const conns = await Promise.all(
      Array.from({ length: streams }, async () => track(await dial(tunnel, kind, via))),
    );
    const sshd = sshdPids();
    const cpu0 = await cpuSeconds([tunnel.pid]);
    const sshd0 = await cpuSeconds(sshd);
    const t0 = performance.now();
    await Promise.all(conns.map((c) => direction === "up" ? upload(c, each) : download(c, each)));
    const secs = (performance.now() - t0) / 1000;
    const cpu = await cpuSeconds([tunnel.pid]) - cpu0;
    const sshdCpu = await cpuSeconds(sshd) - sshd0;
    const gib = moved / (1024 * MiB);
    return { MiBps: moved / MiB / secs, cpuPerGiB: cpu / gib, sshdCpuPerGiB: sshdCpu / gib };
  });
}

export interface LatencyResult {
  p50us: number;
  p99us: number;
  /** The slowest round trip counted (a stall, such as a delayed ACK's 40 ms, shows here). */
  maxUs: number;
  /** p99 of as many round trips again, from the `WARM_AFTER`th counted on: a JIT's warm-up is over. */
  warmP99us: number;
}

/** Round trips after which a JIT-compiled tunnel's code has settled (see README, round trips). */
const WARM_AFTER = 2000;

/**
 * Round trips of one 64-byte message through the echo, after a warm-up: 1 MiB
 * each way first (a connection that has been in use a while, as a
 * database's is), then `warmup` round trips that are not counted. p50, p99
 * and the slowest are of the next `count`; the warm p99 of `count` from the
 * `WARM_AFTER`th of those on (the two windows overlap when `count` is larger).
 */
export function latency(
  tunnel: Tunnel,
  count: number,
  warmup = 200,
  via: Via = "forward",
): Promise<LatencyResult> {
  return bounded("latency", 30_000 + (WARM_AFTER + count) * 50, async (track) => {
    const conn = track(await dial(tunnel, "echo", via));
    const chunk = new Uint8Array(CHUNK / 4);
    for (let moved = 0; moved < MiB; moved += chunk.length) {
      await writeAll(conn, payload.subarray(0, chunk.length));
      await readExactly(conn, chunk);
    }
    const msg = payload.subarray(0, 64);
    const back = new Uint8Array(64);
    const samples: number[] = [];
    for (let i = 0; i < warmup + WARM_AFTER + count; i++) {
      const t0 = performance.now();
      await writeAll(conn, msg);
      await readExactly(conn, back);
      if (i >= warmup) samples.push(performance.now() - t0);
    }
    const first = samples.slice(0, count).sort((a, b) => a - b);
    const warm = samples.slice(WARM_AFTER).sort((a, b) => a - b);
    const q = (sorted: number[], p: number) =>
      sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
    return {
      p50us: q(first, 0.5) * 1000,
      p99us: q(first, 0.99) * 1000,
      maxUs: first.at(-1)! * 1000,
      warmP99us: q(warm, 0.99) * 1000,
    };
  });
}

export interface ConnRateResult {
  perSecond: number;
  /** CPU milliseconds of the tunnel process per connection. */
  cpuMsPerConn: number;
}

/**
 * Sequential new connections: connect, one 64-byte echo, close. Per second,
 * and the tunnel process's CPU per connection, after `warmup` connections
 * that are not counted (for every tool alike).
 */
export function connRate(
  tunnel: Tunnel,
  count: number,
  warmup = 200,
  via: Via = "forward",
): Promise<ConnRateResult> {
  return bounded("connection rate", 30_000 + (warmup + count) * 100, async (track) => {
    const msg = payload.subarray(0, 64);
    const back = new Uint8Array(64);
    let t0 = performance.now();
    let cpu0 = 0;
    for (let i = 0; i < warmup + count; i++) {
      if (i === warmup) {
        cpu0 = await cpuSeconds([tunnel.pid]);
        t0 = performance.now();
      }
      const conn = track(await dial(tunnel, "echo", via));
      await writeAll(conn, msg);
      await readExactly(conn, back);
      conn.close();
    }
    const secs = (performance.now() - t0) / 1000;
    const cpu = await cpuSeconds([tunnel.pid]) - cpu0;
    return { perSecond: count / secs, cpuMsPerConn: (cpu * 1000) / count };
  });
}

export interface MemoryResult {
  idleRssMiB: number;
  rssMiB: number;
  hwmMiB: number;
  opened: number;
}

/** Open `count` echo connections (32 at a time, each echoes once), read RSS, close. */
export function manyConnections(tunnel: Tunnel, count: number): Promise<MemoryResult> {
  return bounded("many connections", 60_000 + count * 60, async (track) => {
    const idle = memoryMiB(tunnel.pid);
    const msg = payload.subarray(0, 64);
    let next = 0;
    const worker = async () => {
      const back = new Uint8Array(64);
      while (next < count) {
        next++;
        const conn = track(await connect(tunnel.ports.echo));
        await writeAll(conn, msg);
        await readExactly(conn, back);
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    const mem = memoryMiB(tunnel.pid);
    return { idleRssMiB: idle.rss, rssMiB: mem.rss, hwmMiB: mem.hwm, opened: count };
  });
}
