/**
 * Run the warren CLI exactly as `deno task start` does (same permission
 * flags, from lib/permissions.ts), for black-box tests: exit code, stdout and
 * stderr of a finished run, or a live process that can be waited on for a log
 * line and signalled.
 */
import { PERMISSION_FLAGS } from "../../lib/permissions.ts";
import type { NetnsHost } from "./netns.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const decoder = new TextDecoder();

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: Record<string, string>;
  /** Kill the run after this long (ms); the test then fails on the result. */
  timeoutMs?: number;
  /** Run inside this network namespace (e.g. `warren serve` next to the origins). */
  netns?: NetnsHost;
}

function command(
  args: string[],
  opts: CliOptions,
  stdout: "piped" | "null" = "piped",
): Deno.Command {
  const cmdArgs = ["run", "--no-prompt", ...PERMISSION_FLAGS, MAIN, ...args];
  const options: Deno.CommandOptions = {
    env: { NO_COLOR: "1", ...opts.env },
    stdin: "null",
    stdout,
    stderr: "piped",
  };
  return opts.netns
    ? opts.netns.command(Deno.execPath(), cmdArgs, options)
    : new Deno.Command(Deno.execPath(), { args: cmdArgs, ...options });
}

/** Run to completion. */
export async function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const child = command(args, opts).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
  }, opts.timeoutMs ?? 30_000);
  try {
    const out = await child.output();
    return {
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** A running warren whose stderr is collected as it arrives. */
export class LiveCli implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  stderr = "";
  stdout = "";
  #waiters: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  #pumps: Promise<void>[];

  constructor(args: string[], opts: CliOptions = {}) {
    this.child = command(args, opts).spawn();
    this.#pumps = [
      this.#collect(this.child.stderr, (s) => this.stderr += s),
      this.#collect(this.child.stdout, (s) => this.stdout += s),
    ];
  }

  async #collect(stream: ReadableStream<Uint8Array>, add: (s: string) => void): Promise<void> {
    for await (const chunk of stream) {
      add(decoder.decode(chunk, { stream: true }));
      this.#check();
    }
  }

  #check(): void {
    this.#waiters = this.#waiters.filter((w) => {
      const m = (this.stderr + this.stdout).match(w.pattern);
      if (m) w.resolve(m);
      return !m;
    });
  }

  /** Wait for output matching `pattern` (or the process to exit first). */
  async waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    const found = new Promise<RegExpMatchArray>((resolve) => {
      this.#waiters.push({ pattern, resolve });
      this.#check();
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const failed = Promise.race([
      this.child.status.then(() => `exited before printing ${pattern}`),
      new Promise<string>((r) =>
        timer = setTimeout(() => r(`no ${pattern} within ${timeoutMs} ms`), timeoutMs)
      ),
    ]);
    try {
      const result = await Promise.race([found, failed]);
      if (typeof result === "string") {
        // Let the collectors finish so the message carries all the output.
        await Promise.race([Promise.all(this.#pumps), new Promise((r) => setTimeout(r, 500))]);
        const m = (this.stderr + this.stdout).match(pattern);
        if (m) return m;
        throw new Error(`${result}; output:\n${this.stderr}${this.stdout}`);
      }
      return result;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Signal and wait for the exit code. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<number> {
    try {
      this.child.kill(signal);
    } catch { /* exited */ }
    return await this.exit();
  }

  /** Wait for the exit code (killing after `timeoutMs`). */
  async exit(timeoutMs = 10_000): Promise<number> {
    const timer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch { /* exited */ }
    }, timeoutMs);
    try {
      const status = await this.child.status;
      await Promise.all(this.#pumps);
      return status.code;
    } finally {
      clearTimeout(timer);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop("SIGKILL");
  }
}
