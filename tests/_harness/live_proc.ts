/**
 * A running program (warren, OpenSSH's ssh, ...) whose stderr and stdout are
 * collected as they arrive: wait for some output, then signal it and read its
 * exit code. `runProc()` runs one to completion with a time limit.
 *
 * Client programs started here get an empty SSH_AUTH_SOCK unless told
 * otherwise, so a developer's agent never takes part in a test.
 */
const decoder = new TextDecoder();

export interface ProcResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Something that builds commands inside a network namespace (NetnsHost). */
export interface CommandWrapper {
  command(cmd: string, args: string[], options?: Deno.CommandOptions): Deno.Command;
}

export class LiveProc implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  stderr = "";
  stdout = "";
  /** False once the process has exited. */
  running = true;
  #waiters: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  #pumps: Promise<void>[];

  /** Spawn `command` (its stdout and stderr must be "piped"). */
  constructor(command: Deno.Command) {
    this.child = command.spawn();
    this.#pumps = [
      this.#collect(this.child.stderr, (s) => this.stderr += s),
      this.#collect(this.child.stdout, (s) => this.stdout += s),
    ];
    this.child.status.finally(() => this.running = false);
  }

  /** `cmd args...` with piped output and no agent. */
  static spawn(cmd: string, args: string[], env: Record<string, string> = {}): LiveProc {
    return new LiveProc(
      new Deno.Command(cmd, {
        args,
        env: { SSH_AUTH_SOCK: "", ...env },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }),
    );
  }

  /** stderr then stdout, as collected so far. */
  get output(): string {
    return this.stderr + this.stdout;
  }

  async #collect(stream: ReadableStream<Uint8Array>, add: (s: string) => void): Promise<void> {
    for await (const chunk of stream) {
      add(decoder.decode(chunk, { stream: true }));
      this.#waiters = this.#waiters.filter((w) => {
        const m = this.output.match(w.pattern);
        if (m) w.resolve(m);
        return !m;
      });
    }
  }

  /** Wait for output matching `pattern` (failing if the process exits first). */
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

/** Run to completion (SIGKILL after `timeoutMs`), in `netns` if given. */
export function runProc(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; timeoutMs?: number; netns?: CommandWrapper } = {},
): Promise<ProcResult> {
  const options: Deno.CommandOptions = {
    args,
    env: { SSH_AUTH_SOCK: "", ...opts.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  };
  const command = opts.netns
    ? opts.netns.command(cmd, args, options)
    : new Deno.Command(cmd, options);
  return runCommand(command, opts.timeoutMs);
}

/** Run a command with piped output to completion (SIGKILL after `timeoutMs`). */
export async function runCommand(command: Deno.Command, timeoutMs = 30_000): Promise<ProcResult> {
  const child = command.spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
  }, timeoutMs);
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
