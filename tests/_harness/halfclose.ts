/**
 * Runs the two ends of a half-close exchange (tests/_harness/halfclose_peer.ts)
 * as child processes, here or inside a test namespace, and checks that what
 * each side sent is exactly what the other received.
 *
 * - `startExchangeOrigin()` is the far side: one process listening on four
 *   ports (going first or second, plain TCP or FTP), reporting each finished
 *   exchange, a fifth (`probe`) that says "probe" and closes, and a sixth
 *   (`abort`) that resets mid-stream; `next(listener)` waits for the next
 *   report of a listener.
 * - `runNear()` is the near side: one connection (optionally through a
 *   SOCKS5 proxy, or as an FTP client), run to completion with a time limit.
 * - `assertExchange()` compares the two reports and fails with a line that
 *   says which direction lost or changed bytes, and how many arrived.
 *
 * Orders: "far-first" means the far side sends everything and EOFs first,
 * then the near side uploads and closes; "near-first" is the reverse.
 */
import assert from "node:assert/strict";
import type { ExchangeReport, First, UNIX_LISTENERS } from "./halfclose_peer.ts";
import type { CommandWrapper } from "./live_proc.ts";
import type { NetnsHost } from "./netns.ts";
import { run } from "./procs.ts";

export type { ExchangeReport } from "./halfclose_peer.ts";
export { unixListenerPath } from "./halfclose_peer.ts";

export type Order = "far-first" | "near-first";
export const ORDERS: readonly Order[] = ["far-first", "near-first"];

type TcpListener = "sendFirst" | "receiveFirst" | "ftpSendFirst" | "ftpReceiveFirst";
export type Listener = TcpListener | (typeof UNIX_LISTENERS)[number];
/** Every port of the far side: the exchange listeners, `probe` and `abort` (see halfclose_peer.ts). */
export type OriginPorts = Record<TcpListener | "probe" | "abort", number>;

const PROGRAM = new URL("./halfclose_peer.ts", import.meta.url).pathname;
const DENO_ARGS = ["run", "--quiet", "--no-config", "--no-lock", "--no-prompt", "--allow-net"];
const READY_TIMEOUT_MS = 20_000;
const MiB = 1024 * 1024;

export interface ExchangeOrigin extends AsyncDisposable {
  host: string;
  ports: OriginPorts;
  bytes: number;
  /** The next finished exchange on `listener` (fails after `timeoutMs`). */
  next(listener: Listener, timeoutMs?: number): Promise<ExchangeReport>;
  close(): Promise<void>;
}

/**
 * TCP buffers of at most 256 KiB in `netns` (sysctls of its own; the host's
 * stay as they are). Linux lets a receive buffer grow to 32 MiB here, enough
 * to swallow a whole transfer whatever the reader does; with small buffers a
 * slow reader in the namespace (see halfclose_peer.ts) backs its stream up
 * into the SSH window, the state in which a tunnel that closes early loses
 * bytes.
 */
export async function smallBuffers(netns: NetnsHost): Promise<void> {
  await run(netns.command("/usr/sbin/sysctl", [
    "-q",
    "-w",
    "net.ipv4.tcp_rmem=4096 65536 262144",
    "net.ipv4.tcp_wmem=4096 16384 262144",
  ], { stdin: "null", stdout: "piped", stderr: "piped" }));
}

/** A port in 20000-59999 that is not in `taken` (for a namespace this process cannot probe). */
export function pickPort(taken: Set<number>): number {
  for (;;) {
    const p = 20_000 + Math.floor(Math.random() * 40_000);
    if (!taken.has(p)) {
      taken.add(p);
      return p;
    }
  }
}

/** The listener the far side uses for `order` (FTP or plain TCP). */
export function farListener(order: Order, ftp = false): TcpListener {
  const first = order === "far-first" ? "SendFirst" : "ReceiveFirst";
  return ftp ? `ftp${first}` : (first[0].toLowerCase() + first.slice(1)) as TcpListener;
}

/** The far side's Unix socket listener for `order` (see `unixDir`). */
export function unixListener(order: Order): (typeof UNIX_LISTENERS)[number] {
  return order === "far-first" ? "unixSendFirst" : "unixReceiveFirst";
}

/** The near side's part in `order`. */
export function nearFirst(order: Order): First {
  return order === "near-first" ? "send" : "receive";
}

function spawn(args: string[], netns: CommandWrapper | undefined): Deno.ChildProcess {
  const options: Deno.CommandOptions = { stdin: "null", stdout: "piped", stderr: "piped" };
  // Unix sockets need file permissions, for their path (or directory) only.
  const unix = args.indexOf("--unix");
  const files = unix < 0
    ? []
    : [`--allow-read=${args[unix + 1]}`, `--allow-write=${args[unix + 1]}`];
  const all = [...DENO_ARGS, ...files, PROGRAM, ...args];
  return (netns
    ? netns.command(Deno.execPath(), all, options)
    : new Deno.Command(Deno.execPath(), { ...options, args: all })).spawn();
}

/** The far side on `host` (default 127.0.0.1), in `netns` if given. */
export async function startExchangeOrigin(
  options: {
    netns?: CommandWrapper;
    host?: string;
    bytes: number;
    /** Also listen on Unix sockets in this existing directory (unixListenerPath). */
    unixDir?: string;
  },
): Promise<ExchangeOrigin> {
  const host = options.host ?? "127.0.0.1";
  const child = spawn([
    ...["listen", "--host", host, "--bytes", `${options.bytes}`],
    ...(options.unixDir !== undefined ? ["--unix", options.unixDir] : []),
  ], options.netns);
  const stderr = new Response(child.stderr).text();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const queues = new Map<string, ExchangeReport[]>();
  const waiters = new Map<string, ((r: ExchangeReport) => void)[]>();
  let pending = "";
  let ended = false;
  const onEnd: (() => void)[] = [];
  const readLine = async (): Promise<string | null> => {
    for (;;) {
      const lf = pending.indexOf("\n");
      if (lf >= 0) {
        const line = pending.slice(0, lf);
        pending = pending.slice(lf + 1);
        return line;
      }
      const { value, done } = await lines.read();
      if (done) return null;
      pending += value;
    }
  };
  const kill = async () => {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
    await reading;
    await stderr;
  };
  let ports: OriginPorts;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const first = await Promise.race([
      readLine(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("no ready line")), READY_TIMEOUT_MS);
      }),
    ]);
    if (first === null) throw new Error("exited before ready");
    ports = JSON.parse(first);
  } catch (err) {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
    await lines.cancel().catch(() => {});
    throw new Error(`exchange origin did not start: ${(err as Error).message}: ${await stderr}`);
  } finally {
    clearTimeout(timer);
  }
  const reading = (async () => {
    for (let line; (line = await readLine()) !== null;) {
      const { listener, ...report } = JSON.parse(line) as ExchangeReport & { listener: string };
      const w = waiters.get(listener)?.shift();
      if (w) w(report);
      else queues.set(listener, [...(queues.get(listener) ?? []), report]);
    }
  })().catch(() => {}).finally(() => {
    ended = true;
    for (const f of onEnd.splice(0)) f();
  });
  let closing: Promise<void> | undefined;
  const close = () => closing ??= kill();
  return {
    host,
    ports,
    bytes: options.bytes,
    async next(listener, timeoutMs = 60_000) {
      const queued = queues.get(listener)?.shift();
      if (queued) return queued;
      if (ended) throw new Error(`the exchange origin has exited: ${await stderr}`);
      let t: ReturnType<typeof setTimeout> | undefined;
      let waiter: ((r: ExchangeReport) => void) | undefined;
      try {
        return await new Promise<ExchangeReport>((resolve, reject) => {
          waiter = resolve;
          waiters.set(listener, [...(waiters.get(listener) ?? []), resolve]);
          onEnd.push(() => reject(new Error("the exchange origin exited")));
          t = setTimeout(
            () => reject(new Error(`no report from the far side (${listener}) in ${timeoutMs} ms`)),
            timeoutMs,
          );
        });
      } finally {
        clearTimeout(t);
        // A report that comes after the timeout is queued for the next call.
        waiters.set(listener, (waiters.get(listener) ?? []).filter((w) => w !== waiter));
      }
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

export interface NearOptions {
  netns?: CommandWrapper;
  host?: string;
  port: number;
  order: Order;
  bytes: number;
  /** Ask the SOCKS5 proxy at host:port for this "host:port" first. */
  socks?: string;
  /** Be an FTP client; the far side's report comes back in `far`. */
  ftp?: boolean;
  /** Dial this Unix socket instead of host:port. */
  unix?: string;
  timeoutMs?: number;
}

/** One near-side connection, run to completion (killed after `timeoutMs`). */
export async function runNear(o: NearOptions): Promise<ExchangeReport & { far?: ExchangeReport }> {
  const args = [
    "connect",
    ...["--host", o.host ?? "127.0.0.1", "--port", `${o.port}`],
    ...["--first", nearFirst(o.order), "--bytes", `${o.bytes}`],
    ...(o.socks ? ["--socks", o.socks] : []),
    ...(o.ftp ? ["--ftp"] : []),
    ...(o.unix !== undefined ? ["--unix", o.unix] : []),
  ];
  const child = spawn(args, o.netns);
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
  }, o.timeoutMs ?? 120_000);
  try {
    const out = await child.output();
    const text = new TextDecoder().decode(out.stdout).trim();
    if (!out.success || !text) {
      throw new Error(
        `near side failed (exit ${out.code}): ${new TextDecoder().decode(out.stderr)}${text}`,
      );
    }
    return JSON.parse(text);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves once 127.0.0.1:port (in `netns` if given) leads to a far side's
 * `probe` port; rejects when `stop()` returns a reason first (polled), or
 * after 20 s.
 */
export async function waitForProbe(
  port: number,
  options: { netns?: CommandWrapper; stop?: () => string | undefined } = {},
): Promise<void> {
  const child = spawn(["probe", "--port", `${port}`], options.netns);
  const output = child.output();
  let done = false;
  output.then(() => done = true, () => done = true);
  let why: string | undefined;
  while (!done && !(why = options.stop?.())) await new Promise((r) => setTimeout(r, 50));
  if (!done) {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
  }
  const out = await output;
  if (why) throw new Error(why);
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr).trim());
}

function mib(n: number): string {
  return `${(n / MiB).toFixed(3).replace(/\.?0+$/, "")} MiB`;
}

/** Fail unless near and far each received exactly what the other sent. */
export function assertExchange(
  label: string,
  near: ExchangeReport,
  far: ExchangeReport,
  bytes: number,
): void {
  const problems: string[] = [];
  const check = (dir: string, from: ExchangeReport, to: ExchangeReport) => {
    if (from.sent !== bytes) problems.push(`${dir}: the sender sent ${mib(from.sent)}`);
    if (to.received !== from.sent) {
      problems.push(`${dir}: ${mib(to.received)} of ${mib(from.sent)} arrived`);
    } else if (to.receivedSha !== from.sentSha) problems.push(`${dir} hash mismatch`);
  };
  check("upload", near, far);
  check("download", far, near);
  if (near.error) problems.push(`near side: ${near.error}`);
  if (far.error) problems.push(`far side: ${far.error}`);
  assert.ok(problems.length === 0, `${label}: ${problems.join("; ")}`);
}
