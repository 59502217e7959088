/**
 * A running client program (OpenSSH's ssh, say) whose stderr and stdout are
 * collected as they arrive: wait for a line, then signal it and read its
 * exit code. `runProc()` runs one to completion with a time limit.
 */
const decoder = new TextDecoder();

export interface ProcResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class LiveProc implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  output = "";
  /** False once the process has exited. */
  running = true;
  #waiters: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  #pumps: Promise<void>[];

  constructor(cmd: string, args: string[], env: Record<string, string> = {}) {
    this.child = new Deno.Command(cmd, {
      args,
      env: { SSH_AUTH_SOCK: "", ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#pumps = [this.#collect(this.child.stderr), this.#collect(this.child.stdout)];
    this.child.status.finally(() => this.running = false);
  }

  async #collect(stream: ReadableStream<Uint8Array>): Promise<void> {
    for await (const chunk of stream) {
      this.output += decoder.decode(chunk, { stream: true });
      this.#waiters = this.#waiters.filter((w) => {
        const m = this.output.match(w.pattern);
        if (m) w.resolve(m);
        return !m;
      });
    }
  }

  /** Wait for output matching `pattern`; fails if the process exits first. */
  async waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    const now = this.output.match(pattern);
    if (now) return now;
    const found = new Promise<RegExpMatchArray>((resolve) =>
      this.#waiters.push({ pattern, resolve })
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const failed = Promise.race([
      this.child.status.then(() => Promise.all(this.#pumps)).then(() =>
        `exited before printing ${pattern}`
      ),
      new Promise<string>((r) =>
        timer = setTimeout(() => r(`no ${pattern} within ${timeoutMs} ms`), timeoutMs)
      ),
    ]);
    try {
      const result = await Promise.race([found, failed]);
      if (typeof result !== "string") return result;
      const m = this.output.match(pattern);
      if (m) return m;
      throw new Error(`${result}; output:\n${this.output}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Count of matches of `pattern` in the output so far. */
  count(pattern: RegExp): number {
    return [...this.output.matchAll(new RegExp(pattern.source, "g"))].length;
  }

  /** Signal and wait for the exit code. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<number> {
    try {
      this.child.kill(signal);
    } catch { /* exited */ }
    return await this.exit();
  }

  /** Wait for the exit code (SIGKILL after `timeoutMs`). */
  async exit(timeoutMs = 15_000): Promise<number> {
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

/** Run to completion (SIGKILL after `timeoutMs`). */
export async function runProc(
  cmd: string,
  args: string[],
  opts: {
    env?: Record<string, string>;
    timeoutMs?: number;
    netns?: { command: (c: string, a: string[], o: Deno.CommandOptions) => Deno.Command };
  } = {},
): Promise<ProcResult> {
  const options: Deno.CommandOptions = {
    args,
    env: { SSH_AUTH_SOCK: "", ...opts.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  };
  const child =
    (opts.netns ? opts.netns.command(cmd, args, options) : new Deno.Command(cmd, options)).spawn();
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
