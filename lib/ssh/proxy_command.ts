/**
 * A command as the transport (OpenSSH's ProxyCommand): warren speaks SSH
 * over the command's stdin and stdout, as through `nc -X connect -x
 * proxy:3128 %h %p`, `ssh -W %h:%p jump`, corkscrew or a cloud session
 * manager.
 *
 * - Tokens: %h the host, %p the port, %r the remote user, %% a percent
 *   sign; any other %x is refused when the option is read.
 * - The command runs under /bin/sh as `exec COMMAND` (cmd.exe /c on
 *   Windows); its stderr is the user's stderr.
 * - Its exit (or its closing stdout) is the transport's end: the socket is
 *   destroyed with "proxy command 'CMD' exited with status N", which the
 *   connection reports as the reason it was lost, in one line.
 * - Closing the connection closes the command's stdin, then ends the
 *   command (SIGTERM) if it is still running.
 */
import { Buffer } from "node:buffer";
import { PacketDuplex } from "./transport.ts";

export interface ProxyCommandTokens {
  host: string;
  port: number;
  user: string;
}

/** The unknown %x tokens of a template (empty = all known). */
export function unknownProxyTokens(template: string): string[] {
  return [...template.matchAll(/%(.?)/g)]
    .map((m) => m[1])
    .filter((c) => !["h", "p", "r", "%"].includes(c))
    .map((c) => `%${c}`);
}

/** Expand %h %p %r %% in a ProxyCommand template. */
export function expandProxyCommand(template: string, t: ProxyCommandTokens): string {
  return template.replace(/%(.?)/g, (all, c: string) => {
    switch (c) {
      case "h":
        return t.host;
      case "p":
        return String(t.port);
      case "r":
        return t.user;
      case "%":
        return "%";
      default:
        return all;
    }
  });
}

/** How the command's end reads, for messages. */
export class ProxyCommandExit extends Error {
  constructor(command: string, status: Deno.CommandStatus | undefined) {
    const how = status === undefined
      ? "closed its output"
      : status.signal
      ? `was killed by ${status.signal}`
      : `exited with status ${status.code}`;
    super(`proxy command '${command}' ${how}`);
    this.name = "ProxyCommandExit";
  }
}

/**
 * A Node Duplex over a child process's stdout (read) and stdin (write),
 * read and written as DenoSocket is (PacketDuplex in transport.ts: the
 * output read into one buffer that ssh2 parses in place and a tunnel's data
 * is decrypted from straight into its buffers; a turn's packets written
 * together and returned to their slabs once written).
 */
export class ProxyCommandSocket extends PacketDuplex {
  /** ssh2 checks this to know the socket is already connected. */
  readonly connecting = false;
  readonly command: string;
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #status?: Deno.CommandStatus;
  #exited: Promise<Deno.CommandStatus>;
  /** The rest of the last chunk the command wrote, when it did not fit the read. */
  #rest?: Uint8Array;
  /** Set once the output has closed: why the transport ends. */
  endReason?: ProxyCommandExit;
  /** The command's stdin, written as a connection is (whole chunks). */
  protected readonly out = {
    write: async (bytes: Uint8Array): Promise<number> => {
      await this.#writer.write(bytes);
      return bytes.length;
    },
  };

  constructor(command: string, child: Deno.ChildProcess) {
    // Not destroyed by the end of both sides: the command's exit is destroyed
    // with its reason (see #pull).
    super({ allowHalfOpen: false, autoDestroy: false });
    this.command = command;
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#reader = child.stdout.getReader();
    this.#exited = child.status.then((s) => this.#status = s);
    // Writes to a command that exited fail; the exit is the news, not EPIPE.
    this.#writer.closed.catch(() => {});
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  /** The command's output, as much as fits in `buf`; null once it is over. */
  protected async readInto(buf: Uint8Array): Promise<number | null> {
    let chunk = this.#rest;
    this.#rest = undefined;
    if (chunk === undefined) {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await this.#reader.read();
      } catch {
        return null;
      }
      if (r.done) return null;
      chunk = r.value;
    }
    const n = Math.min(chunk.length, buf.length);
    buf.set(n === chunk.length ? chunk : chunk.subarray(0, n));
    if (n < chunk.length) this.#rest = chunk.subarray(n);
    return n;
  }

  /**
   * The output is over: the command has ended, or is about to. Once the
   * reader has every byte before it ('end'), the exit is the error.
   */
  protected override inputEnded(): void {
    this.#settle().then(() => {
      if (this.destroyed) return;
      const exit = new ProxyCommandExit(this.command, this.#status);
      this.endReason = exit;
      this.once("end", () => this.destroy(exit));
      this.push(null);
    });
  }

  /** Wait (briefly) for the exit status after the output closed. */
  async #settle(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.#exited, new Promise((r) => timer = setTimeout(r, 2000))]);
    clearTimeout(timer);
  }

  override _write(chunk: Buffer, enc: string, cb: (err?: Error | null) => void): void {
    // A failed write means the command is gone; its exit ends the stream (see #pull).
    super._write(chunk, enc, () => cb());
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    super._writev(chunks, () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#writer.close().then(() => cb(), () => cb());
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#writer.close().catch(() => {});
    this.#reader.cancel().catch(() => {});
    if (this.#status === undefined) {
      try {
        this.#child.kill("SIGTERM");
      } catch { /* exited */ }
    }
    cb(err);
  }

  /** Resolves once the command has exited (for cleanup in tests and at exit). */
  get exited(): Promise<Deno.CommandStatus> {
    return this.#exited;
  }
}

/** Start `command` (already expanded) and return it as a socket for ssh2. */
export function spawnProxyCommand(command: string): ProxyCommandSocket {
  const [shell, args] = Deno.build.os === "windows"
    ? ["cmd.exe", ["/d", "/s", "/c", command]]
    : ["/bin/sh", ["-c", `exec ${command}`]];
  const child = new Deno.Command(shell, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  return new ProxyCommandSocket(command, child);
}
