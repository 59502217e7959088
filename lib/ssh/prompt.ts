/**
 * Questions on the controlling terminal: a yes/no confirmation and a secret
 * read without echo. Both exist only when stdin is a terminal and batch mode is
 * off; callers get `undefined` otherwise and must not ask. Ctrl-C at a
 * question (a character in raw mode, not a signal) throws InterruptedError.
 */

import { InterruptedError } from "../errors.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface Prompter {
  confirm(question: string): Promise<boolean>;
  secret(prompt: string): Promise<string>;
}

/** A terminal prompter, or undefined without a terminal or in batch mode. */
export function terminalPrompter(batchMode: boolean): Prompter | undefined {
  if (batchMode || !Deno.stdin.isTerminal()) return undefined;
  return { confirm, secret: readSecret };
}

async function confirm(question: string): Promise<boolean> {
  for (;;) {
    const answer = (await readLine(`${question} (yes/no) `, true)).trim()
      .toLowerCase();
    if (answer === "yes" || answer === "y") return true;
    if (answer === "no" || answer === "n" || answer === "") return false;
    Deno.stderr.writeSync(encoder.encode("Please type 'yes' or 'no'.\n"));
  }
}

function readSecret(prompt: string): Promise<string> {
  return readLine(prompt, false);
}

/**
 * Read one line; the terminal is in raw mode meanwhile (warren echoes what it
 * should), from before the question shows, so that nothing typed in answer
 * is echoed by the terminal and Ctrl-C is always a character here.
 */
async function readLine(prompt: string, echo: boolean): Promise<string> {
  Deno.stdin.setRaw(true);
  Deno.stderr.writeSync(encoder.encode(prompt));
  const chars: string[] = [];
  const buf = new Uint8Array(64);
  try {
    for (;;) {
      const n = await Deno.stdin.read(buf);
      if (n === null) throw new Error("end of input at the prompt");
      for (const ch of decoder.decode(buf.subarray(0, n))) {
        if (ch === "\r" || ch === "\n") return chars.join("");
        if (ch === "\x03") throw new InterruptedError("interrupted at the prompt");
        if (ch === "\x04" && chars.length === 0) {
          throw new Error("end of input at the prompt");
        }
        if (ch === "\x7f" || ch === "\b") {
          if (chars.pop() !== undefined && echo) {
            Deno.stderr.writeSync(encoder.encode("\b \b"));
          }
          continue;
        }
        if (ch === "\x15") { // ^U: erase the line
          if (echo) {
            Deno.stderr.writeSync(encoder.encode("\b \b".repeat(chars.length)));
          }
          chars.length = 0;
          continue;
        }
        if (ch < " ") continue;
        chars.push(ch);
        if (echo) Deno.stderr.writeSync(encoder.encode(ch));
      }
    }
  } finally {
    Deno.stdin.setRaw(false);
    Deno.stderr.writeSync(encoder.encode("\n"));
  }
}
