/**
 * What holds warren's memory after load (issue 19, part 4). Not a test: a
 * script that prints numbers.
 *
 *   deno run --allow-all tests/bench/memory_soak.ts [--conns N] [--open N] [--idle S]
 *                                                    [--no-gc] [--trim]
 *
 * warren -L (memory_child.ts: the client as main.ts runs it, plus a memory
 * report on SIGUSR2) through a loopback OpenSSH sshd to the bench's echo
 * server. Phases: idle; N (default 3,000) connections held open at once;
 * a soak of many short connections (default 100,000, 32 at a time, 64 bytes
 * echoed each); idle again for S seconds (default 20). After each, the RSS
 * from /proc and Deno.memoryUsage() (V8 heap used/total, external) before
 * and after a forced full GC (--no-gc: never forced, as warren runs);
 * --trim: then glibc's malloc_trim(0), to see what the allocator keeps.
 */
import { startBenchSshd } from "./sshd.ts";
import { closeAllProcs, memoryMiB, ROOT, startServers } from "./tunnels.ts";
import { freePort, sleep } from "../_harness/free_port.ts";
import { writeAll } from "../../lib/net/io.ts";
import { RUN_FLAGS } from "../../lib/permissions.ts";

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}
const OPEN = arg("open", 3_000);
const SOAK = arg("conns", 100_000);
const IDLE_S = arg("idle", 20);
const MiB = 1024 * 1024;

interface Usage {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
}

const sshd = await startBenchSshd();
const servers = await startServers();
const report = await Deno.makeTempFile({ prefix: "warren-mem-" });
const port = freePort();
const child = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "--no-prompt",
    ...RUN_FLAGS,
    ...(Deno.args.includes("--no-gc") ? [] : ["--v8-flags=--expose-gc"]),
    `${ROOT}tests/bench/memory_child.ts`,
    "-q",
    "-B",
    "-i",
    sshd.clientKey,
    "-o",
    `UserKnownHostsFile=${sshd.knownHosts}`,
    "-o",
    "StrictHostKeyChecking=yes",
    "-p",
    String(sshd.port),
    "-l",
    sshd.user,
    "-L",
    `127.0.0.1:${port}:127.0.0.1:${servers.ports.echo}`,
    sshd.host,
  ],
  env: { WARREN_MEM_REPORT: report, WARREN_MEM_TRIM: Deno.args.includes("--trim") ? "1" : "" },
  stdin: "null",
  stdout: "inherit",
  stderr: "inherit",
}).spawn();

const rows: string[] = [];
async function measure(phase: string): Promise<void> {
  const rss = memoryMiB(child.pid);
  const lines = () => Deno.readTextFileSync(report).split("\n").filter((l) => l).length;
  const before = lines();
  child.kill("SIGUSR2");
  while (lines() === before) await sleep(20);
  const r = JSON.parse(Deno.readTextFileSync(report).trim().split("\n").at(-1)!) as {
    before: Usage;
    after: Usage;
  };
  const f = (u: Usage) =>
    `heap ${(u.heapUsed / MiB).toFixed(1)}/${(u.heapTotal / MiB).toFixed(1)}, external ${
      (u.external / MiB).toFixed(1)
    }, rss ${(u.rss / MiB).toFixed(1)}`;
  const after = memoryMiB(child.pid);
  rows.push(
    `${phase.padEnd(28)} RSS ${rss.rss.toFixed(1)} (peak ${rss.hwm.toFixed(1)}) | ` +
      `before GC: ${f(r.before)} | after GC: ${f(r.after)} (RSS then ${after.rss.toFixed(1)})`,
  );
  console.log(rows.at(-1));
}

async function echo(conn: Deno.Conn, msg: Uint8Array): Promise<void> {
  await writeAll(conn, msg);
  const back = new Uint8Array(msg.length);
  let off = 0;
  while (off < back.length) {
    const n = await conn.read(back.subarray(off));
    if (n === null) throw new Error("closed early");
    off += n;
  }
}

try {
  const msg = new Uint8Array(64).fill(7);
  for (let i = 0; i < 50; i++) {
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      await echo(c, msg);
      c.close();
      break;
    } catch {
      await sleep(200);
    }
  }
  await sleep(2_000);
  await measure("idle after start");

  const open: Deno.Conn[] = [];
  for (let i = 0; i < OPEN; i += 100) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(100, OPEN - i) }, async () => {
        const c = await Deno.connect({ hostname: "127.0.0.1", port });
        await echo(c, msg);
        return c;
      }),
    );
    open.push(...batch);
  }
  await measure(`${OPEN} connections open`);
  for (const c of open) c.close();
  await sleep(3_000);
  await measure(`after closing them`);

  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < SOAK) {
      next++;
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      await echo(c, msg);
      c.close();
    }
  }));
  console.log(
    `soak: ${SOAK} connections in ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );
  await measure(`right after ${SOAK} connections`);
  await sleep(IDLE_S * 1000);
  await measure(`idle ${IDLE_S} s later`);
  if (Deno.args.includes("--trim")) {
    child.kill("SIGUSR1");
    await sleep(1_000);
    console.log(Deno.readTextFileSync(report).trim().split("\n").at(-1));
    await measure("after malloc_trim(0)");
  }
} finally {
  try {
    child.kill("SIGTERM");
  } catch { /* gone */ }
  await child.status;
  await servers.close();
  await sshd.close();
  await closeAllProcs();
  await Deno.remove(report).catch(() => {});
  console.log("\n" + rows.join("\n"));
}
