/**
 * The processes under test and their neighbours: `warren -L` (spawned as
 * `deno run <the start task's flags> main.ts ...`, as users run it), `ssh -N
 * -L` (OpenSSH's client with its own defaults: `-F none`, BatchMode), and the
 * sink/source/echo helper. Plus /proc readers for CPU time and RSS.
 *
 * Each tunnel forwards three local ports to the helper's sink, source and
 * echo ports, and runs a SOCKS proxy (`-L socks/` and `ssh -D`) on a fourth.
 * Ready means one byte went through the echo tunnel and back.
 * `close()` is SIGTERM, then SIGKILL after 3 s, and always awaits the exit.
 */
import { fileURLToPath as fromFileUrl } from "node:url";
import { freePort, sleep } from "../_harness/free_port.ts";
import type { BenchSshd } from "./sshd.ts";

/**
 * The contenders. OpenSSH runs at its default cipher (chacha20-poly1305 on
 * this build) and at aes128-gcm, warren's default with libcrypto: the equal-
 * cipher pairing is warren against openssh-gcm. warren-chacha is warren at
 * OpenSSH's default cipher, for the other like-with-like pairing.
 */
export type Tool =
  | "warren"
  | "openssh"
  | "openssh-gcm"
  | "warren-chacha"
  | "warren-ctr"
  | "openssh-ctr"
  | "deno-relay";
export const TOOLS: Tool[] = [
  "warren",
  "openssh",
  "openssh-gcm",
  "warren-chacha",
  "warren-ctr",
  "openssh-ctr",
  "deno-relay",
];
export const TOOL_LABELS: Record<Tool, string> = {
  warren: "warren",
  openssh: "OpenSSH",
  "openssh-gcm": "OpenSSH gcm",
  "warren-chacha": "warren chacha",
  "warren-ctr": "warren ctr",
  "openssh-ctr": "OpenSSH ctr",
  "deno-relay": "Deno relay",
};
/** What a server without the AEAD ciphers negotiates (both tools' first MAC with ssh2's list). */
const CTR = ["aes128-ctr", "hmac-sha2-256-etm@openssh.com"];
const CIPHER_OPTION: Record<Tool, string[]> = {
  warren: [],
  openssh: [],
  "openssh-gcm": ["-c", "aes128-gcm@openssh.com"],
  "warren-chacha": ["-o", "Ciphers=chacha20-poly1305@openssh.com"],
  "warren-ctr": ["-o", `Ciphers=${CTR[0]}`, "-o", `MACs=${CTR[1]}`],
  "openssh-ctr": ["-c", CTR[0], "-m", CTR[1]],
  "deno-relay": [],
};
export const isWarren = (tool: Tool): boolean => tool.startsWith("warren");
/** The plain Deno relay (tests/bench/deno_relay.ts): no SSH, the runtime's floor. */
export const isFloor = (tool: Tool): boolean => tool === "deno-relay";
export const ROOT = fromFileUrl(new URL("../../", import.meta.url));
const READY_TIMEOUT_MS = 30_000;
const live = new Set<() => Promise<void>>();

/** End every process this module started and has not ended yet. */
export async function closeAllProcs(): Promise<void> {
  await Promise.allSettled([...live].map((close) => close()));
}

export interface Ports {
  sink: number;
  source: number;
  echo: number;
}

export interface Proc extends AsyncDisposable {
  pid: number;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  close(): Promise<void>;
}

export interface Tunnel extends Proc {
  tool: Tool;
  /** Local ports through the tunnel to the helper's sink, source, echo; and the SOCKS proxy. */
  ports: Ports & { socks: number };
  /** The helper's own ports, which SOCKS requests name. */
  target: Ports;
}

/** Spawn with stderr collected (and stdout handed back, if piped). */
function spawn(cmd: string, args: string[], stdio: "piped" | "null", stdin: "piped" | "null") {
  const env = Deno.env.toObject();
  delete env.SSH_AUTH_SOCK; // keys from -i only, for both tools
  const child = new Deno.Command(cmd, {
    args,
    cwd: ROOT,
    env,
    clearEnv: true,
    stdin,
    stdout: stdio,
    stderr: "piped",
  }).spawn();
  let err = "";
  const errDone = child.stderr.pipeThrough(new TextDecoderStream())
    .pipeTo(new WritableStream({ write: (s) => void (err += s) })).catch(() => {});
  const status = child.status;
  let exited = false;
  status.finally(() => exited = true);
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }, 3_000);
      await status;
      clearTimeout(timer);
      await errDone;
      live.delete(close);
    })();
  live.add(close);
  return { child, close, stderr: () => err, exited: () => exited };
}

/** The helper process with the sink, source and echo servers. */
export async function startServers(): Promise<Proc & { ports: Ports }> {
  const p = spawn(
    Deno.execPath(),
    ["run", "--allow-net=127.0.0.1", fromFileUrl(new URL("servers.ts", import.meta.url))],
    "piped",
    "piped",
  );
  const close = async () => {
    await p.child.stdin.close().catch(() => {});
    await p.close();
  };
  try {
    const reader = p.child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let line = "";
    const timer = setTimeout(() => reader.cancel().catch(() => {}), READY_TIMEOUT_MS);
    while (!line.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      line += value;
    }
    clearTimeout(timer);
    reader.cancel().catch(() => {});
    if (!line.includes("\n")) throw new Error(`servers helper did not start: ${p.stderr()}`);
    const ports = JSON.parse(line) as Ports;
    return { pid: p.child.pid, ports, stderr: p.stderr, close, [Symbol.asyncDispose]: close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The `deno run ...flags` of the start task, so warren runs as users run it. */
async function startTaskFlags(): Promise<string[]> {
  const json = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  // Leading VAR=value words (the task's own environment) are not flags.
  const words = String(json.tasks?.start ?? "").trim().split(/\s+/)
    .filter((w, i, all) =>
      !(/^[A-Z_]+=/.test(w) && all.slice(0, i).every((x) => /^[A-Z_]+=/.test(x)))
    );
  if (words[0] !== "deno" || words[1] !== "run" || words.at(-1) !== "main.ts") {
    throw new Error(`unexpected start task: ${json.tasks?.start}`);
  }
  return words.slice(1, -1);
}

/** Start one tunnel process and wait until the echo tunnel answers. */
export async function startTunnel(
  tool: Tool,
  sshd: BenchSshd,
  target: Ports,
  verbose = false,
  cpuProfDir?: string,
): Promise<Tunnel> {
  const ports = { sink: freePort(), source: freePort(), echo: freePort(), socks: freePort() };
  const forwards = (["sink", "source", "echo"] as const).flatMap((k) => [
    "-L",
    `127.0.0.1:${ports[k]}:127.0.0.1:${target[k]}`,
  ]);
  const common = [
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
    ...forwards,
  ];
  const p = isFloor(tool)
    ? spawn(
      Deno.execPath(),
      [
        "run",
        "--allow-net=127.0.0.1",
        fromFileUrl(new URL("deno_relay.ts", import.meta.url)),
        ...(["sink", "source", "echo"] as const).map((k) => `${ports[k]}:${target[k]}`),
      ],
      "null",
      "null",
    )
    : isWarren(tool)
    ? spawn(
      Deno.execPath(),
      [
        ...await startTaskFlags(),
        ...(cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${cpuProfDir}`] : []),
        `${ROOT}main.ts`,
        verbose ? "-vvv" : "-q",
        "-B",
        ...CIPHER_OPTION[tool],
        ...common,
        "-L",
        `socks/127.0.0.1:${ports.socks}`,
        sshd.host,
      ],
      "null",
      "null",
    )
    : spawn(
      "ssh",
      [
        "-F",
        "none",
        "-N",
        ...(verbose ? ["-v"] : []),
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "ExitOnForwardFailure=yes",
        ...CIPHER_OPTION[tool],
        ...common,
        "-D",
        `127.0.0.1:${ports.socks}`,
        sshd.host,
      ],
      "null",
      "null",
    );
  const tunnel: Tunnel = {
    tool,
    pid: p.child.pid,
    ports,
    target,
    stderr: p.stderr,
    close: p.close,
    [Symbol.asyncDispose]: p.close,
  };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!await echoOnce(ports.echo)) {
    if (p.exited() || Date.now() > deadline) {
      await p.close();
      throw new Error(`${tool} tunnel did not come up; stderr:\n${p.stderr()}`);
    }
    await sleep(50);
  }
  return tunnel;
}

async function echoOnce(port: number): Promise<boolean> {
  let conn: Deno.TcpConn | undefined;
  const timer = setTimeout(() => conn?.close(), 2_000);
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new Uint8Array([42]));
    const buf = new Uint8Array(1);
    return await conn.read(buf) === 1 && buf[0] === 42;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch { /* closed */ }
  }
}

/** The negotiated cipher, from one verbose run of each tool. */
export async function negotiatedCipher(
  tool: Tool,
  sshd: BenchSshd,
  target: Ports,
): Promise<string> {
  if (isFloor(tool)) return "none (no SSH)";
  const t = await startTunnel(tool, sshd, target, true);
  await t.close();
  const text = t.stderr();
  const re = isWarren(tool)
    ? /Handshake: (C->S|S->C) cipher: (\S+)/gi
    : /kex: (client->server|server->client) cipher: (\S+) MAC: (\S+)/g;
  const found = [...text.matchAll(re)].map((m) =>
    `${m[1]} ${m[2]}${m[3] && m[3] !== "<implicit>" ? ` + ${m[3]}` : ""}`
  );
  return found.length ? found.join(", ") : "unknown (not in debug output)";
}

let clkTck = 0;

/** CPU seconds (user + system, all threads) a process has used so far. */
export async function cpuSeconds(pids: number[]): Promise<number> {
  if (!clkTck) {
    const out = await new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" })
      .output().catch(() => undefined);
    clkTck = Number(new TextDecoder().decode(out?.stdout ?? new Uint8Array()).trim()) || 100;
  }
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(f[11]) + Number(f[12]);
    } catch { /* exited */ }
  }
  return ticks / clkTck;
}

/** VmRSS and VmHWM of a process, in MiB. */
export function memoryMiB(pid: number): { rss: number; hwm: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? NaN);
  return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024 };
}

/**
 * `warren serve` on 127.0.0.1 (a free port) with the bench sshd's host key and
 * authorized client key, run as users run it; for the rows where each client
 * talks to its own kind of server.
 */
export async function startBenchServe(sshd: BenchSshd): Promise<BenchSshd> {
  const p = spawn(
    Deno.execPath(),
    [
      ...await startTaskFlags(),
      `${ROOT}main.ts`,
      "serve",
      "--listen",
      "127.0.0.1:0",
      "--host-key",
      `${sshd.dir}/host_ed25519`,
      "--authorized-keys",
      `${sshd.dir}/authorized_keys`,
    ],
    "null",
    "null",
  );
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let m: RegExpExecArray | null;
  while (!(m = /Listening on \S+:(\d+)/.exec(p.stderr()))) {
    if (p.exited() || Date.now() > deadline) {
      await p.close();
      throw new Error(`warren serve did not start; stderr:\n${p.stderr()}`);
    }
    await sleep(50);
  }
  const port = Number(m[1]);
  const knownHosts = `${sshd.dir}/known_hosts_serve_${port}`;
  const key = (await Deno.readTextFile(`${sshd.dir}/host_ed25519.pub`)).trim().split(" ");
  await Deno.writeTextFile(knownHosts, `[${sshd.host}]:${port} ${key[0]} ${key[1]}\n`);
  return {
    ...sshd,
    port,
    knownHosts,
    pid: p.child.pid,
    children: () => [],
    close: p.close,
    [Symbol.asyncDispose]: p.close,
  };
}
