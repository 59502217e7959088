/**
 * The in-process ssh2 test server (tests/_harness/ssh_server.ts) in a child
 * process of its own, so that its channel window can differ from the test's:
 * ssh2 copies the window when it loads, once per process, and
 * WARREN_CHANNEL_WINDOW (lib/ssh/window.ts) sets it. The window is what the
 * server advertises: it caps what warren's client may send it unacknowledged
 * (uploads through -L, the replies through -R).
 *
 * `startTestServerProcess({ window, netns })` runs this file as a program
 * (inside `netns` if given, on its loopback); it prints one JSON line (port,
 * clientKey, knownHosts) when ready and serves until it gets SIGTERM.
 * `close()` sends that and waits for the exit.
 */
import type { CommandWrapper } from "./live_proc.ts";
import { startTestServer } from "./ssh_server.ts";

const CONFIG = new URL("../../deno.json", import.meta.url).pathname;
const SELF = new URL(import.meta.url).pathname;
const READY_TIMEOUT_MS = 30_000;

export interface TestServerProcess extends AsyncDisposable {
  port: number;
  clientKey: string;
  knownHosts: string;
  /** The window it advertises, as given to WARREN_CHANNEL_WINDOW ("" = ssh2's 2 MiB). */
  window: string;
  close(): Promise<void>;
}

/** Start the ssh2 server in a child process advertising `window` (e.g. "64K"). */
export async function startTestServerProcess(
  options: { window?: string; netns?: CommandWrapper } = {},
): Promise<TestServerProcess> {
  const window = options.window ?? "";
  const args = ["run", "--quiet", "--no-prompt", "--allow-all", "--config", CONFIG, SELF];
  const opts: Deno.CommandOptions = {
    env: { WARREN_CHANNEL_WINDOW: window },
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  };
  const child =
    (options.netns
      ? options.netns.command(Deno.execPath(), args, opts)
      : new Deno.Command(Deno.execPath(), { ...opts, args })).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("no ready line")), READY_TIMEOUT_MS);
    });
    while (!text.includes("\n")) {
      const { value, done } = await Promise.race([reader.read(), timeout]);
      if (done) throw new Error(`exited before ready: ${text}`);
      text += value;
    }
  } catch (err) {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
    throw new Error(`ssh2 test server process did not start: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => {});
  }
  const info = JSON.parse(text.slice(0, text.indexOf("\n")));
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      const t = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* exited */ }
      }, 10_000);
      try {
        child.kill("SIGTERM");
      } catch { /* exited */ }
      await child.status;
      clearTimeout(t);
    })();
  return { ...info, window, close, [Symbol.asyncDispose]: close };
}

if (import.meta.main) {
  const server = await startTestServer();
  const stop = async () => {
    await server.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", stop);
  console.log(JSON.stringify({
    port: server.port,
    clientKey: server.clientKey,
    knownHosts: server.knownHosts,
  }));
}
