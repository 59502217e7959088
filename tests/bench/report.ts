/**
 * Turning per-run samples into medians, a table, and a JSON record. A sample
 * is one tool's figures from one run, keyed by metric; a metric a run did not
 * measure (or that failed) is simply absent.
 */
import { type Tool, TOOL_LABELS } from "./tunnels.ts";

export type Sample = Record<string, number>;

export interface Metric {
  key: string;
  label: string;
  unit: string;
  better: "higher" | "lower";
}

const m = (key: string, label: string, unit: string, better: Metric["better"]): Metric => ({
  key,
  label,
  unit,
  better,
});

export const STREAMS = [1, 2, 4, 8];

export const METRICS: Metric[] = [
  m("up1", "upload, 1 stream", "MiB/s", "higher"),
  m("down1", "download, 1 stream", "MiB/s", "higher"),
  m("up2", "upload, 2 streams", "MiB/s", "higher"),
  m("up4", "upload, 4 streams", "MiB/s", "higher"),
  m("up8", "upload, 8 streams", "MiB/s", "higher"),
  m("down8", "download, 8 streams", "MiB/s", "higher"),
  m("hwm_down8", "peak RSS, download 8 streams", "MiB", "lower"),
  m("cpu_up1", "tunnel CPU, upload 1", "s/GiB", "lower"),
  m("cpu_down1", "tunnel CPU, download 1", "s/GiB", "lower"),
  m("cpu_up8", "tunnel CPU, upload 8", "s/GiB", "lower"),
  m("sshd_cpu_up1", "sshd CPU, upload 1", "s/GiB", "lower"),
  m("sshd_cpu_down1", "sshd CPU, download 1", "s/GiB", "lower"),
  m("lat_p50", "64 B round trip p50", "µs", "lower"),
  m("lat_p99", "64 B round trip p99", "µs", "lower"),
  m("lat_max", "64 B round trip, slowest", "µs", "lower"),
  m("lat_p99_warm", "64 B round trip p99, warm", "µs", "lower"),
  m("conn_rate", "new connections (seq.)", "conn/s", "higher"),
  m("conn_cpu", "CPU per new connection", "ms", "lower"),
  m("socks_down1", "SOCKS5: download, 1 stream", "MiB/s", "higher"),
  m("socks_lat_p50", "SOCKS5: 64 B round trip p50", "µs", "lower"),
  m("socks_lat_p99", "SOCKS5: 64 B round trip p99", "µs", "lower"),
  m("socks_conn_rate", "SOCKS5: new connections", "conn/s", "higher"),
  m("wan50_down1", "50 ms link: download, 1 stream", "MiB/s", "higher"),
  m("wan50_down8", "50 ms link: download, 8 streams", "MiB/s", "higher"),
  m("wan50_up1", "50 ms link: upload, 1 stream", "MiB/s", "higher"),
  m("wan100_down1", "100 ms link: download, 1 stream", "MiB/s", "higher"),
  m("wan100_down8", "100 ms link: download, 8 streams", "MiB/s", "higher"),
  m("wan100_up1", "100 ms link: upload, 1 stream", "MiB/s", "higher"),
  m("wan50_own_down1", "50 ms, own server: download, 1 stream", "MiB/s", "higher"),
  m("wan50_own_up1", "50 ms, own server: upload, 1 stream", "MiB/s", "higher"),
  m("rss_idle", "RSS idle", "MiB", "lower"),
  m("rss_open", "RSS, N conns open", "MiB", "lower"),
  m("hwm_open", "peak RSS (VmHWM), N open", "MiB", "lower"),
];

export function median(values: number[]): number | undefined {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (!v.length) return undefined;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

export type Medians = Partial<Record<Tool, Record<string, number>>>;

export function medians(samples: Partial<Record<Tool, Sample[]>>): Medians {
  const out: Medians = {};
  for (const tool of Object.keys(samples) as Tool[]) {
    out[tool] = {};
    for (const { key } of METRICS) {
      const v = median(samples[tool]!.map((s) => s[key]).filter((x) => x !== undefined));
      if (v !== undefined) out[tool]![key] = v;
    }
  }
  return out;
}

function fmt(v: number | undefined): string {
  if (v === undefined) return "-";
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/**
 * The ratio columns: each warren variant against the OpenSSH run at the same
 * cipher (the lead), then warren's default against OpenSSH's default.
 */
export const PAIRS: [Tool, Tool][] = [
  ["warren", "openssh-gcm"],
  ["warren-chacha", "openssh"],
  ["warren-ctr", "openssh-ctr"],
  ["warren", "openssh"],
  ["warren", "deno-relay"],
];

/** The results table as Markdown (also readable on a terminal). */
export function table(
  med: Medians,
  runs: Partial<Record<Tool, Sample[]>>,
  openConns: number,
): string {
  const tools = Object.keys(runs) as Tool[];
  const pairs = PAIRS.filter(([a, b]) => tools.includes(a) && tools.includes(b));
  const rows = [
    [
      "metric",
      "unit",
      ...tools.map((t) => TOOL_LABELS[t]),
      ...pairs.map(([a, b]) => `${TOOL_LABELS[a]}/${TOOL_LABELS[b]}`),
      "runs",
    ],
    ["---", "---", ...tools.map(() => "---:"), ...pairs.map(() => "---:"), "---:"],
  ];
  for (const metric of METRICS) {
    const values = tools.map((t) => med[t]?.[metric.key]);
    if (values.every((v) => v === undefined)) continue;
    const ratios = pairs.map(([a, b]) => {
      const w = med[a]?.[metric.key];
      const o = med[b]?.[metric.key];
      if (w === undefined || o === undefined || !(o > 0)) return "-";
      const ratio = w / o;
      const worse = (metric.better === "higher") !== (ratio >= 1);
      return `${ratio.toFixed(2)}${worse ? " *" : ""}`;
    });
    const n = (t: Tool) => runs[t]!.filter((s) => s[metric.key] !== undefined).length;
    rows.push([
      metric.label.replace("N ", `${openConns} `),
      metric.unit,
      ...values.map(fmt),
      ...ratios,
      tools.map(n).join("/"),
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) =>
    "| " +
    r.map((c, i) => (i >= 2 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(" | ") +
    " |"
  ).join("\n") + "\n(* = warren worse than the other; medians over runs)";
}

/** Machine facts for the record. */
export async function machineFacts(sshdPath: string): Promise<Record<string, string>> {
  const out = async (cmd: string, args: string[]) => {
    try {
      const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
      const d = new TextDecoder();
      return (d.decode(o.stdout) + d.decode(o.stderr)).trim().split("\n")[0];
    } catch {
      return "unknown";
    }
  };
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  return {
    nproc: await out("nproc", []),
    cpu: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? "unknown",
    aes: /^flags\s*:.*\baes\b/m.test(cpuinfo) ? "yes" : "no",
    kernel: await out("uname", ["-r"]),
    sshd: await out(sshdPath, ["-V"]),
    ssh: await out("ssh", ["-V"]),
    deno: `${Deno.version.deno} (v8 ${Deno.version.v8})`,
  };
}

/** Write the JSON record and return its path. */
export async function writeJson(dir: string, stamp: string, record: unknown): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/${stamp}.json`;
  await Deno.writeTextFile(path, JSON.stringify(record, null, 2) + "\n");
  return path;
}
