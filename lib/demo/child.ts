/**
 * The demo's warren processes: main.ts run as a user runs it (`deno run` with
 * the compiled binary's permissions), or a compiled binary when one is given
 * (the release workflow's smoke test), its stderr collected line by line so
 * the demo can wait for "Listening on ..." and show the log afterwards.
 */
import { RUN_FLAGS } from "../permissions.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;

export class WarrenProcess implements AsyncDisposable {
  readonly name: string;
  readonly child: Deno.ChildProcess;
  output = "";
  #exited = false;
  #reading: Promise<void>;
  #changed = Promise.withResolvers<void>();

  constructor(name: string, args: string[], env: Record<string, string>, binary?: string) {
    this.name = name;
    const child = new Deno.Command(binary ?? Deno.execPath(), {
      args: binary ? args : ["run", "--quiet", "--no-prompt", ...RUN_FLAGS, MAIN, ...args],
      env: { NO_COLOR: "1", ...env },
      cwd: ROOT, // where deno.json maps the npm imports
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.child = child;
    child.status.finally(() => {
      this.#exited = true;
      this.#changed.resolve();
    });
    this.#reading = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of child.stderr) {
        this.output += decoder.decode(chunk, { stream: true });
        const changed = this.#changed;
        this.#changed = Promise.withResolvers<void>();
        changed.resolve();
      }
    })();
  }

  /** Wait for a line matching `pattern`; throws if it exits or takes too long. */
  async waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.output.match(pattern);
      if (m) return m;
      if (this.#exited) {
        await this.#reading;
        const late = this.output.match(pattern);
        if (late) return late;
        throw new Error(`${this.name} exited before printing ${pattern}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`${this.name} did not print ${pattern} within ${timeoutMs} ms`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([this.#changed.promise, new Promise((r) => timer = setTimeout(r, left))]);
      clearTimeout(timer);
    }
  }

  /** SIGTERM (SIGKILL after 10 s); resolves the exit code. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<number> {
    try {
      this.child.kill(signal);
    } catch { /* already exited */ }
    const timer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch { /* exited */ }
    }, 10_000);
    try {
      const status = await this.child.status;
      await this.#reading;
      return status.code;
    } finally {
      clearTimeout(timer);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#exited) await this.stop("SIGKILL");
    else await this.#reading;
  }
}
