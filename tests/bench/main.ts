/**
 * `deno task bench`: warren -L against OpenSSH's ssh -L (and warren -L socks/
 * against ssh -D) through one loopback sshd, alternating runs, medians and
 * the ratio warren/OpenSSH.
 *
 *   deno task bench [--quick] [--runs N] [--only throughput,latency,connrate,socks,wan,memory]
 *                   [--tools warren,openssh,openssh-gcm,warren-chacha,warren-ctr,openssh-ctr,
 *                    deno-relay] [--size MIB] [--out DIR]
 *
 * OpenSSH runs at its default cipher and at aes128-gcm (warren's default);
 * the table leads with the equal-cipher ratio. The wan part puts a relay
 * that delays each direction (25 and 50 ms: 50 and 100 ms round trips) in
 * front of sshd.
 *
 * Prints a table, writes bench-results/<timestamp>.json and a throughput-vs-
 * streams chart (<timestamp>.svg) next to it. Every process it starts is
 * ended on the way out, also on failure and on Ctrl-C.
 */
import { bulk, connRate, latency, manyConnections } from "./measure.ts";
import {
  machineFacts,
  medians,
  METRICS,
  type Sample,
  STREAMS,
  table,
  writeJson,
} from "./report.ts";
import { summarizeProfile } from "./profile.ts";
import { type BenchSshd, SSHD, startBenchSshd } from "./sshd.ts";
import { throughputChart } from "./svg.ts";
import {
  closeAllProcs,
  isFloor,
  isWarren,
  memoryMiB,
  negotiatedCipher,
  ROOT,
  startBenchServe,
  startServers,
  startTunnel,
  type Tool,
  TOOL_LABELS,
  TOOLS,
  type Tunnel,
} from "./tunnels.ts";
import { PAIRS } from "./report.ts";
import { startDelayRelay } from "../_harness/delay_relay.ts";

const PARTS = ["throughput", "latency", "connrate", "socks", "wan", "memory"] as const;
const DEFAULT_TOOLS: Tool[] = ["warren", "openssh", "openssh-gcm", "deno-relay"];
/** One-way delays of the wan part: 50 and 100 ms round trips. */
const WAN_DELAYS_MS = [25, 50];
type Part = typeof PARTS[number];
const MiB = 1024 * 1024;

interface Options {
  quick: boolean;
  runs: number;
  only: Set<Part>;
  tools: Tool[];
  sizeMiB: number;
  out: string;
  latencyCount: number;
  connCount: number;
  openConns: number;
  cpuProf: boolean;
}

const USAGE = `Usage: deno task bench [--quick] [--runs N] [--only ${PARTS.join(",")}]
                       [--tools ${TOOLS.join(",")}] [--size MIB] [--out DIR] [--cpu-prof]
  --quick   smoke run: 64 MiB transfers, fewer round trips and connections, 1 run
  --runs N  alternating runs per tool (default 3; medians are reported)
  --only    comma-separated parts to run (default: all)
  --tools   contenders (default: ${DEFAULT_TOOLS.join(",")})
  --size    bytes per bulk transfer in MiB (default 512; split over parallel streams)
  --out     results folder (default bench-results/)
  --cpu-prof  run warren under deno --cpu-prof for the throughput/latency/connrate
            part; profiles go to <out>/<timestamp>-cpuprof/ and are summarised`;

function parseOptions(args: string[]): Options {
  const quick = args.includes("--quick");
  const value = (name: string) => {
    const i = args.findIndex((a) => a === name || a.startsWith(`${name}=`));
    if (i < 0) return undefined;
    const v = args[i].includes("=") ? args[i].slice(name.length + 1) : args[i + 1];
    if (v === undefined) throw new Error(`${name} needs a value`);
    return v;
  };
  for (const a of args) {
    if (a.startsWith("--") && !/^--(quick|runs|only|tools|size|out|help|cpu-prof)(=|$)/.test(a)) {
      throw new Error(`unknown option ${a}`);
    }
  }
  const only = new Set<Part>();
  for (const p of (value("--only") ?? PARTS.join(",")).split(",").filter(Boolean)) {
    if (!PARTS.includes(p as Part)) throw new Error(`--only: unknown part ${p}`);
    only.add(p as Part);
  }
  const tools: Tool[] = [];
  for (const t of (value("--tools") ?? DEFAULT_TOOLS.join(",")).split(",").filter(Boolean)) {
    if (!TOOLS.includes(t as Tool)) throw new Error(`--tools: unknown tool ${t}`);
    tools.push(t as Tool);
  }
  const runs = Number(value("--runs") ?? (quick ? 1 : 3));
  const sizeMiB = Number(value("--size") ?? (quick ? 64 : 512));
  if (!(runs >= 1 && Number.isInteger(runs))) throw new Error("--runs must be a positive integer");
  if (!(sizeMiB >= 8)) throw new Error("--size must be at least 8 (MiB)");
  return {
    quick,
    runs,
    only,
    tools,
    sizeMiB,
    out: value("--out") ?? `${ROOT}bench-results`,
    latencyCount: quick ? 300 : 5000,
    connCount: quick ? 100 : 2000,
    openConns: quick ? 200 : 1000,
    cpuProf: args.includes("--cpu-prof"),
  };
}

let sshdRef: { close(): Promise<void> } | undefined;

const progress = (line: string) => console.error(`bench: ${line}`);

async function benchTool(
  tool: Tool,
  run: number,
  opts: Options,
  ctx: {
    sshd: Awaited<ReturnType<typeof startBenchSshd>>;
    ports: Awaited<ReturnType<typeof startServers>>["ports"];
    errors: string[];
    profDir?: string;
  },
): Promise<Sample> {
  const s: Sample = {};
  const attempt = async (label: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      const msg = `run ${run + 1} ${tool} ${label}: ${err instanceof Error ? err.message : err}`;
      ctx.errors.push(msg);
      progress(`FAILED ${msg}`);
    }
  };
  const sshdPids = () => ctx.sshd.children().map((p) => p.pid);
  const bytes = opts.sizeMiB * MiB;
  if (["throughput", "latency", "connrate", "socks"].some((p) => opts.only.has(p as Part))) {
    const prof = tool === "warren" ? ctx.profDir : undefined;
    const t = await startTunnel(tool, ctx.sshd, ctx.ports, false, prof);
    try {
      if (opts.only.has("throughput")) {
        // Warm-up (JIT, windows, buffers), not recorded.
        await attempt("warm-up", async () => {
          await bulk(t, sshdPids, "up", 1, bytes / 8);
          await bulk(t, sshdPids, "down", 1, bytes / 8);
        });
        const cases: [string, "up" | "down", number][] = [
          ...STREAMS.map((n) => [`up${n}`, "up", n] as [string, "up", number]),
          ["down1", "down", 1],
          ["down8", "down", 8],
        ];
        for (const [key, dir, n] of cases) {
          await attempt(key, async () => {
            // The peak while eight streams download, not the process's
            // lifetime peak: clear_refs 5 resets VmHWM (Linux 4.0+).
            const peak = key === "down8" && resetPeak(t.pid);
            const r = await bulk(t, sshdPids, dir, n, bytes);
            s[key] = r.MiBps;
            if (peak) s.hwm_down8 = memoryMiB(t.pid).hwm;
            if (`cpu_${key}` in metricKeys) s[`cpu_${key}`] = r.cpuPerGiB;
            if (`sshd_cpu_${key}` in metricKeys && !isFloor(tool)) {
              s[`sshd_cpu_${key}`] = r.sshdCpuPerGiB;
            }
            progress(`run ${run + 1} ${tool} ${key}: ${r.MiBps.toFixed(0)} MiB/s`);
          });
        }
      }
      if (opts.only.has("latency")) {
        await attempt("latency", async () => {
          const r = await latency(t, opts.latencyCount);
          s.lat_p50 = r.p50us;
          s.lat_p99 = r.p99us;
          s.lat_max = r.maxUs;
          s.lat_p99_warm = r.warmP99us;
          progress(`run ${run + 1} ${tool} latency: p50 ${r.p50us.toFixed(0)} µs`);
        });
      }
      if (opts.only.has("connrate")) {
        await attempt("connrate", async () => {
          const r = await connRate(t, opts.connCount);
          s.conn_rate = r.perSecond;
          s.conn_cpu = r.cpuMsPerConn;
          progress(
            `run ${run + 1} ${tool} connrate: ${s.conn_rate.toFixed(0)}/s, ` +
              `${s.conn_cpu.toFixed(3)} CPU ms each`,
          );
        });
      }
      if (opts.only.has("socks") && !isFloor(tool)) {
        // The same three through the SOCKS proxy: -L socks/ against ssh -D.
        await attempt("socks", async () => {
          await bulk(t, sshdPids, "down", 1, bytes / 8, "socks"); // warm-up
          s.socks_down1 = (await bulk(t, sshdPids, "down", 1, bytes, "socks")).MiBps;
          const lat = await latency(t, opts.latencyCount, 200, "socks");
          s.socks_lat_p50 = lat.p50us;
          s.socks_lat_p99 = lat.p99us;
          s.socks_conn_rate = (await connRate(t, opts.connCount, 200, "socks")).perSecond;
          progress(
            `run ${run + 1} ${tool} socks: ${s.socks_down1.toFixed(0)} MiB/s, ` +
              `p50 ${lat.p50us.toFixed(0)} µs, ${s.socks_conn_rate.toFixed(0)} conn/s`,
          );
        });
      }
    } finally {
      await t.close();
    }
  }
  if (opts.only.has("wan") && !isFloor(tool)) {
    // Large enough that the window's growth (three round trips from 2 to 16
    // MiB) is not most of the transfer: 256 MiB at 100 ms is ~20 round trips.
    const size = Math.max(16, Math.min(opts.sizeMiB, 256)) * MiB;
    /** `tool` through a relay with `delay` ms each way in front of `server`. */
    const overLink = async <T>(
      server: BenchSshd,
      delay: number,
      fn: (t: Tunnel) => Promise<T>,
    ): Promise<T> => {
      await using relay = startDelayRelay({ hostname: server.host, port: server.port }, delay);
      const knownHosts = `${server.dir}/known_hosts_relay_${relay.port}`;
      const line = (await Deno.readTextFile(server.knownHosts)).trim().split(" ").slice(1);
      await Deno.writeTextFile(knownHosts, `[127.0.0.1]:${relay.port} ${line.join(" ")}\n`);
      await using t = await startTunnel(
        tool,
        { ...server, port: relay.port, knownHosts },
        ctx.ports,
      );
      return await fn(t);
    };
    for (const delay of WAN_DELAYS_MS) {
      const key = `wan${2 * delay}`;
      await attempt(`wan ${2 * delay} ms`, async () => {
        await overLink(ctx.sshd, delay, async (t) => {
          s[`${key}_down1`] = (await bulk(t, sshdPids, "down", 1, size)).MiBps;
          s[`${key}_down8`] = (await bulk(t, sshdPids, "down", 8, size)).MiBps;
          s[`${key}_up1`] = (await bulk(t, sshdPids, "up", 1, size / 2)).MiBps;
        });
        progress(
          `run ${run + 1} ${tool} ${2 * delay} ms: down1 ${s[`${key}_down1`].toFixed(0)}, ` +
            `down8 ${s[`${key}_down8`].toFixed(0)}, up1 ${s[`${key}_up1`].toFixed(0)} MiB/s`,
        );
      });
    }
    // Each client with its own kind of server: warren against warren serve,
    // OpenSSH against sshd (the rows above, not measured twice).
    await attempt("wan 50 ms, own server", async () => {
      if (!isWarren(tool)) {
        s.wan50_own_down1 = s.wan50_down1;
        s.wan50_own_up1 = s.wan50_up1;
        return;
      }
      await using serve = await startBenchServe(ctx.sshd);
      await overLink(serve, 25, async (t) => {
        const none = () => [];
        s.wan50_own_down1 = (await bulk(t, none, "down", 1, size)).MiBps;
        s.wan50_own_up1 = (await bulk(t, none, "up", 1, size / 2)).MiBps;
      });
      progress(
        `run ${run + 1} ${tool} 50 ms to warren serve: down1 ${s.wan50_own_down1.toFixed(0)}, ` +
          `up1 ${s.wan50_own_up1.toFixed(0)} MiB/s`,
      );
    });
  }
  if (opts.only.has("memory")) {
    await attempt("memory", async () => {
      // A fresh process, so VmHWM is not the bulk transfers' high-water mark.
      const t = await startTunnel(tool, ctx.sshd, ctx.ports);
      try {
        const r = await manyConnections(t, opts.openConns);
        s.rss_idle = r.idleRssMiB;
        s.rss_open = r.rssMiB;
        s.hwm_open = r.hwmMiB;
        progress(`run ${run + 1} ${tool} ${r.opened} open: RSS ${r.rssMiB.toFixed(0)} MiB`);
      } finally {
        await t.close();
      }
    });
  }
  return s;
}

/** Reset a process's VmHWM to its current RSS; false where Linux does not allow it. */
function resetPeak(pid: number): boolean {
  try {
    Deno.writeTextFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

const metricKeys = Object.fromEntries(METRICS.map((m) => [m.key, true]));

async function main(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  let opts: Options;
  try {
    opts = parseOptions(args);
  } catch (err) {
    console.error(`bench: ${err instanceof Error ? err.message : err}\n${USAGE}`);
    return 2;
  }
  const started = performance.now();
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const machine = await machineFacts(SSHD);
  progress(`${machine.nproc} cores, ${machine.cpu}; ${machine.ssh}; deno ${machine.deno}`);
  const sshd = sshdRef = await startBenchSshd();
  try {
    const servers = await startServers();
    try {
      const errors: string[] = [];
      const profDir = opts.cpuProf ? `${opts.out}/${stamp}-cpuprof` : undefined;
      if (profDir) await Deno.mkdir(profDir, { recursive: true });
      const ctx = { sshd, ports: servers.ports, errors, profDir };
      const ciphers: Partial<Record<Tool, string>> = {};
      for (const tool of opts.tools) {
        ciphers[tool] = await negotiatedCipher(tool, sshd, servers.ports)
          .catch((e) => `error: ${e}`);
      }
      progress(`ciphers: ${opts.tools.map((t) => `${TOOL_LABELS[t]} ${ciphers[t]}`).join("; ")}`);
      const samples: Partial<Record<Tool, Sample[]>> = {};
      for (const tool of opts.tools) samples[tool] = [];
      for (let run = 0; run < opts.runs; run++) {
        // Rotate the order so that no tool always runs first (or last).
        const k = run % opts.tools.length;
        const order = [...opts.tools.slice(k), ...opts.tools.slice(0, k)];
        for (const tool of order) samples[tool]!.push(await benchTool(tool, run, opts, ctx));
      }
      const med = medians(samples);
      const ratios: Record<string, Record<string, number>> = {};
      for (const [a, b] of PAIRS) {
        const wa = med[a];
        const ob = med[b];
        if (!wa || !ob) continue;
        ratios[`${a}/${b}`] = Object.fromEntries(
          Object.keys(wa).filter((k) => ob[k] > 0).map((k) => [k, wa[k] / ob[k]]),
        );
      }
      const text = table(med, samples, opts.openConns);
      const seconds = (performance.now() - started) / 1000;
      console.log(`\n${text}\n`);
      for (const tool of opts.tools) console.log(`cipher ${TOOL_LABELS[tool]}: ${ciphers[tool]}`);
      const record = {
        stamp,
        seconds,
        options: { ...opts, only: [...opts.only] },
        machine,
        ciphers,
        metrics: METRICS,
        medians: med,
        ratios,
        samples,
        errors,
        table: text,
      };
      const json = await writeJson(opts.out, stamp, record);
      if (opts.only.has("throughput")) {
        const svg = throughputChart(
          `Upload through the tunnel, ${opts.sizeMiB} MiB total (median of ${opts.runs})`,
          STREAMS,
          opts.tools.map((tool, i) => ({
            name: TOOL_LABELS[tool],
            color: ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e"][i % 4],
            tool,
            points: STREAMS.map((n) => [n, med[tool]?.[`up${n}`] ?? NaN] as [number, number]),
          })),
        );
        await Deno.writeTextFile(json.replace(/\.json$/, ".svg"), svg);
      }
      console.log(`results: ${json} (${seconds.toFixed(0)} s)`);
      for (const entry of profDir ? Deno.readDirSync(profDir) : []) {
        const lines = await summarizeProfile(`${profDir}/${entry.name}`, 10).catch((e) => [`${e}`]);
        console.log(`\n${lines.join("\n")}`);
      }
      if (errors.length) {
        console.error(`bench: ${errors.length} failure(s):\n  ${errors.join("\n  ")}`);
      }
      return errors.length ? 1 : 0;
    } finally {
      await servers.close();
    }
  } finally {
    await sshd.close();
  }
}

async function closeEverything(): Promise<void> {
  await closeAllProcs();
  await sshdRef?.close();
}

if (import.meta.main) {
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(sig, () => {
      progress(`${sig}: stopping everything`);
      closeEverything().finally(() => Deno.exit(130));
    });
  }
  const code = await main(Deno.args).catch(async (err) => {
    console.error(`bench: ${err instanceof Error ? err.stack : err}`);
    await closeEverything();
    return 1;
  });
  Deno.exit(code);
}
