/**
 * `-f`: go to the background once connected and every tunnel listens.
 *
 * Deno cannot fork, so the foreground process starts a copy of itself
 * (detached, WARREN_BACKGROUND=1) and relays its log lines until the copy
 * says it is ready, then prints its PID and exits 0. If the copy fails first,
 * its error lines have been shown and its status is ours.
 *
 * Questions come first, as with OpenSSH's -f: while the foreground process
 * has a terminal (and no -B), the copy asks it (an unknown host key, a
 * passphrase, a password) over a pipe, one JSON line each way, and the
 * foreground asks the user. Ctrl-C there, or while the copy connects, is
 * passed on to the copy, which ends as the foreground run would (exit 130).
 * Without a terminal the copy cannot ask: it needs a known host key and
 * non-interactive authentication.
 */
import { RUN_FLAGS } from "../permissions.ts";
import { setLogWriter } from "../log.ts";
import { InterruptedError, messageOf } from "../errors.ts";
import type { Prompter } from "../ssh/prompt.ts";
import { listenForSignals, stopSignals } from "./signals.ts";

export const BACKGROUND_ENV = "WARREN_BACKGROUND";
/** Set for the copy when the foreground will answer its questions. */
const ASK_ENV = "WARREN_BACKGROUND_ASK";
const READY = "warren-ready";
const ASK = "warren-ask ";

const encoder = new TextEncoder();

interface Question {
  kind: "confirm" | "secret";
  text: string;
}

type Answer = { value: boolean | string } | { interrupted: true } | { error: string };

export function isBackgroundChild(): boolean {
  return Deno.env.get(BACKGROUND_ENV) === "1";
}

/**
 * The command line that runs this program again with `args`: a compiled
 * binary runs itself (its permissions are built in); from source, deno runs
 * the main module with the binary's permissions.
 */
export function selfCommand(
  args: string[],
  compiled: boolean = Deno.build.standalone,
): [string, string[]] {
  const exe = Deno.execPath();
  if (compiled) return [exe, args];
  return [exe, ["run", "--no-prompt", ...RUN_FLAGS, Deno.mainModule, ...args]];
}

/** In the background copy: tell the parent we are up, then stop writing. */
export async function signalReady(): Promise<void> {
  try {
    await Deno.stdout.write(encoder.encode(`${READY}\n`));
  } catch {
    // The parent is gone; carry on.
  }
  setLogWriter(() => {});
}

/** Lines of a byte stream, one at a time, as they are asked for. */
class LineReader {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #decoder = new TextDecoder();
  #text = "";

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  async next(): Promise<string | null> {
    for (;;) {
      const nl = this.#text.indexOf("\n");
      if (nl >= 0) {
        const line = this.#text.slice(0, nl);
        this.#text = this.#text.slice(nl + 1);
        return line;
      }
      const { value, done } = await this.#reader.read();
      if (done) return null;
      this.#text += this.#decoder.decode(value, { stream: true });
    }
  }

  cancel(): Promise<void> {
    return this.#reader.cancel().catch(() => {});
  }
}

/** In the background copy: questions go to the foreground process, if it answers them. */
export function relayPrompter(): Prompter | undefined {
  if (Deno.env.get(ASK_ENV) !== "1") return undefined;
  let answers: LineReader | undefined;
  const ask = async (question: Question): Promise<boolean | string> => {
    await Deno.stdout.write(encoder.encode(`${ASK}${JSON.stringify(question)}\n`));
    const line = await (answers ??= new LineReader(Deno.stdin.readable)).next();
    if (line === null) throw new Error("the foreground process is gone");
    const answer = JSON.parse(line) as Answer;
    if ("interrupted" in answer) throw new InterruptedError("interrupted at the prompt");
    if ("error" in answer) throw new Error(answer.error);
    return answer.value;
  };
  return {
    confirm: async (text) => (await ask({ kind: "confirm", text })) === true,
    secret: async (text) => String(await ask({ kind: "secret", text })),
  };
}

/**
 * In the foreground: start the copy, answer its questions with `prompter`
 * (none: the copy asks nothing), and wait for its word. Returns the exit code.
 */
export async function runInBackground(
  args: string[],
  out: (line: string) => void,
  prompter?: Prompter,
): Promise<number> {
  const [cmd, cmdArgs] = selfCommand(args);
  const child = new Deno.Command(cmd, {
    args: cmdArgs,
    env: { [BACKGROUND_ENV]: "1", ...(prompter ? { [ASK_ENV]: "1" } : {}) },
    stdin: prompter ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    detached: true,
  }).spawn();
  // The copy has its own session: a stop meant for warren reaches it from here.
  const unlisten = listenForSignals(stopSignals(), (signal) => {
    try {
      child.kill(signal);
    } catch { /* gone */ }
  });
  const errReader = child.stderr.getReader();
  const relay = (async () => {
    for (;;) {
      const { value, done } = await errReader.read();
      if (done) return;
      await Deno.stderr.write(value);
    }
  })().catch(() => {});
  const answers = prompter ? child.stdin.getWriter() : undefined;
  const lines = new LineReader(child.stdout);
  try {
    for (let line = await lines.next(); line !== null; line = await lines.next()) {
      if (line === READY) {
        out(`${child.pid}`);
        await lines.cancel();
        await errReader.cancel().catch(() => {});
        await relay;
        child.unref();
        return 0;
      }
      if (line.startsWith(ASK) && prompter && answers) {
        const answer = await answerQuestion(prompter, JSON.parse(line.slice(ASK.length)));
        await answers.write(encoder.encode(`${JSON.stringify(answer)}\n`)).catch(() => {});
      }
    }
    const status = await child.status;
    await relay;
    return status.code === 0 ? 1 : status.code;
  } finally {
    unlisten();
    await answers?.close().catch(() => {});
  }
}

async function answerQuestion(prompter: Prompter, q: Question): Promise<Answer> {
  try {
    return {
      value: q.kind === "confirm" ? await prompter.confirm(q.text) : await prompter.secret(q.text),
    };
  } catch (err) {
    if (err instanceof InterruptedError) return { interrupted: true };
    return { error: messageOf(err) };
  }
}
