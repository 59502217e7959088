/**
 * `-f`: go to the background once connected and every tunnel listens.
 *
 * Deno cannot fork, so the foreground process starts a copy of itself
 * (detached, stdin from /dev/null) with WARREN_BACKGROUND=1, relays its log
 * lines until the copy says it is ready, prints its PID and exits 0. If the
 * copy fails first, its error lines have been shown and its status is ours.
 * The copy runs in batch mode: there is no terminal to answer a question.
 */
import { PERMISSION_FLAGS } from "../permissions.ts";
import { setLogWriter } from "../log.ts";

export const BACKGROUND_ENV = "WARREN_BACKGROUND";
const READY = "warren-ready\n";

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
  return [exe, ["run", "--no-prompt", ...PERMISSION_FLAGS, Deno.mainModule, ...args]];
}

/** In the background copy: tell the parent we are up, then stop writing. */
export async function signalReady(): Promise<void> {
  try {
    await Deno.stdout.write(new TextEncoder().encode(READY));
  } catch {
    // The parent is gone; carry on.
  }
  setLogWriter(() => {});
}

/** In the foreground: start the copy and wait for its word. Returns the exit code. */
export async function runInBackground(
  args: string[],
  out: (line: string) => void,
): Promise<number> {
  const [cmd, cmdArgs] = selfCommand(args);
  const child = new Deno.Command(cmd, {
    args: cmdArgs,
    env: { [BACKGROUND_ENV]: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    detached: true,
  }).spawn();
  const errReader = child.stderr.getReader();
  const relay = (async () => {
    for (;;) {
      const { value, done } = await errReader.read();
      if (done) return;
      await Deno.stderr.write(value);
    }
  })().catch(() => {});
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if (text.includes(READY)) {
      out(`${child.pid}`);
      await reader.cancel().catch(() => {});
      await errReader.cancel().catch(() => {});
      await relay;
      child.unref();
      return 0;
    }
  }
  const status = await child.status;
  await relay;
  return status.code === 0 ? 1 : status.code;
}
