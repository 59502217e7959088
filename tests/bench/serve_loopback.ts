/**
 * `warren serve` against OpenSSH's sshd as the server, on loopback, with the
 * same client on both: OpenSSH's `ssh -c aes128-gcm@openssh.com -L` into
 * sshd and into serve (so the difference is the server's), and warren's
 * client into serve. Alternating runs; bulk one and eight streams, the
 * server's CPU seconds per GiB, round trips.
 *
 *   deno run --allow-all tests/bench/serve_loopback.ts [--runs N] [--size MIB]
 */
import { parseArgs } from "node:util";
import { startBenchSshd } from "./sshd.ts";
import { closeAllProcs, startBenchServe, startServers, startTunnel, type Tool } from "./tunnels.ts";
import { bulk, latency } from "./measure.ts";
import { median } from "./report.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { runs: { type: "string", default: "3" }, size: { type: "string", default: "256" } },
});
const runs = Number(values.runs);
const size = Number(values.size) * 1024 * 1024;
if (!(runs >= 1) || !(size > 0)) throw new Error("--runs and --size must be positive numbers");

const sshd = await startBenchSshd();
const servers = await startServers();
const serve = await startBenchServe(sshd);
const cases: { label: string; tool: Tool; server: typeof sshd; pids: () => number[] }[] = [
  {
    label: "OpenSSH gcm -> sshd",
    tool: "openssh-gcm",
    server: sshd,
    pids: () => sshd.children().map((c) => c.pid),
  },
  { label: "OpenSSH gcm -> serve", tool: "openssh-gcm", server: serve, pids: () => [serve.pid] },
  { label: "warren -> serve", tool: "warren", server: serve, pids: () => [serve.pid] },
];
type Row = Record<string, number>;
const rows: Record<string, Row[]> = {};
try {
  for (let run = 0; run < runs; run++) {
    for (const c of run % 2 === 0 ? cases : [...cases].reverse()) {
      const t = await startTunnel(c.tool, c.server, servers.ports);
      try {
        const down = await bulk(t, c.pids, "down", 1, size);
        const up = await bulk(t, c.pids, "up", 1, size);
        const down8 = await bulk(t, c.pids, "down", 8, size);
        const rt = await latency(t, 5000);
        const row = {
          "download, 1 stream (MiB/s)": down.MiBps,
          "upload, 1 stream (MiB/s)": up.MiBps,
          "download, 8 streams (MiB/s)": down8.MiBps,
          "server CPU per GiB, download (s)": down.sshdCpuPerGiB,
          "server CPU per GiB, upload (s)": up.sshdCpuPerGiB,
          "64 B round trip p50 (µs)": rt.p50us,
          "64 B round trip p99 (µs)": rt.p99us,
        };
        (rows[c.label] ??= []).push(row);
        console.error(
          `run ${run + 1} ${c.label}: ${
            JSON.stringify(row, (_, v) => typeof v === "number" ? Number(v.toFixed(2)) : v)
          }`,
        );
      } finally {
        await t.close();
      }
    }
  }
} finally {
  await serve.close();
  await servers.close();
  await sshd.close();
  await closeAllProcs();
}

const metrics = Object.keys(Object.values(rows)[0][0]);
const labels = cases.map((c) => c.label);
const fmt = (v: number) => v >= 100 ? v.toFixed(0) : v.toFixed(2);
console.log(`| metric (median of ${runs}) | ${labels.join(" | ")} |`);
console.log(`| --- | ${labels.map(() => "---:").join(" | ")} |`);
for (const m of metrics) {
  console.log(
    `| ${m} | ${labels.map((l) => fmt(median(rows[l].map((r) => r[m]))!)).join(" | ")} |`,
  );
}
