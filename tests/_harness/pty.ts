/**
 * warren on a terminal, as a user at a keyboard meets it: the CLI runs as
 * `deno task start` runs it (the binary's permissions), with a pseudo-terminal
 * as its stdin, stdout and stderr and controlling terminal, so its questions
 * are asked and Ctrl-C is the terminal's: a `\x03` typed while the terminal
 * is cooked makes the kernel send SIGINT to the foreground process group; in
 * raw mode (warren's secret prompts) it arrives as a character.
 *
 * Debian's /usr/bin/python3 provides the terminal (its `pty` module): a small
 * relay copies what is typed here to the terminal and what appears there to
 * stdout, and exits with the program's status (128+N when killed by signal N).
 * `ptySupport()` says why it cannot run, for a skip line.
 */
import { RUN_FLAGS } from "../../lib/permissions.ts";
import { LiveProc } from "./live_proc.ts";

const PYTHON = "/usr/bin/python3";
const MAIN = new URL("../../main.ts", import.meta.url).pathname;

// argv: program args... ; prints "pty-pid N" first, then the terminal's output.
const RELAY = `
import os, pty, select, sys
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
os.write(1, b"pty-pid %d\\n" % pid)
inputs = [fd, 0]
while True:
    ready, _, _ = select.select(inputs, [], [])
    if fd in ready:
        try:
            data = os.read(fd, 4096)
        except OSError:
            data = b""
        if not data:
            break
        os.write(1, data)
    if 0 in ready:
        data = os.read(0, 4096)
        if data:
            os.write(fd, data)
        else:
            inputs.remove(0)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
`;

/** Why a pseudo-terminal cannot be had here, or undefined. */
export function ptySupport(): string | undefined {
  try {
    Deno.statSync(PYTHON);
  } catch {
    return `${PYTHON} is missing (Debian's python3 provides the pseudo-terminal)`;
  }
  return undefined;
}

export class PtyCli extends LiveProc {
  #writer: WritableStreamDefaultWriter<Uint8Array>;

  /** Run `warren args...` on a new terminal, with `env` added to the environment. */
  constructor(args: string[], env: Record<string, string> = {}) {
    super(
      new Deno.Command(PYTHON, {
        args: [
          "-c",
          RELAY,
          ...[Deno.execPath(), "run", "--no-prompt", ...RUN_FLAGS, MAIN, ...args],
        ],
        env: { NO_COLOR: "1", SSH_AUTH_SOCK: "", TERM: "dumb", ...env },
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }),
    );
    this.#writer = this.child.stdin.getWriter();
  }

  /** The program's process id (the relay's child). */
  async pid(): Promise<number> {
    return Number((await this.waitFor(/^pty-pid (\d+)/))[1]);
  }

  /** Type `text` at the terminal. */
  async type(text: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(text));
  }

  /** What the terminal showed, with CR LF as LF and without the relay's first line. */
  get screen(): string {
    return this.stdout.replace(/^pty-pid \d+\n/, "").replaceAll("\r\n", "\n");
  }

  /** Close the keyboard, then wait for the exit code. */
  override async exit(timeoutMs = 20_000): Promise<number> {
    await this.#writer.close().catch(() => {});
    return await super.exit(timeoutMs);
  }

  override async [Symbol.asyncDispose](): Promise<void> {
    await this.#writer.close().catch(() => {});
    await super[Symbol.asyncDispose]();
  }
}
