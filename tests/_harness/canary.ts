/**
 * A canary listener: something a hostile peer might try to make warren (or
 * the SSH server, on its behalf) connect to. It counts the connections it
 * gets and closes each at once; a test asserts it stays untouched. In a
 * network namespace it runs as a small Deno child process there (so it
 * stands for a service on the SSH server's side); otherwise in-process.
 */
import { LiveProc } from "./live_proc.ts";
import type { NetnsHost } from "./netns.ts";

export interface Canary extends AsyncDisposable {
  /** Connections it has had so far. */
  touched(): number;
  close(): Promise<void>;
}

const SCRIPT = `
const [hostname, port] = Deno.args;
const l = Deno.listen({ hostname, port: Number(port) });
console.log("ready");
for await (const c of l) { console.log("touched"); c.close(); }
`;

/** Listen on hostname:port (here, or inside `netns`). */
export async function startCanary(
  hostname: string,
  port: number,
  netns?: NetnsHost,
): Promise<Canary> {
  if (!netns) {
    const listener = Deno.listen({ hostname, port });
    let n = 0;
    const loop = (async () => {
      for await (const c of listener) {
        n++;
        c.close();
      }
    })().catch(() => {});
    const close = async () => {
      try {
        listener.close();
      } catch { /* closed */ }
      await loop;
    };
    return { touched: () => n, close, [Symbol.asyncDispose]: close };
  }
  const proc = new LiveProc(
    netns.command(Deno.execPath(), ["eval", "--no-config", SCRIPT, hostname, String(port)], {
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }),
  );
  try {
    await proc.waitFor(/ready/);
  } catch (err) {
    await proc.stop("SIGKILL");
    throw err;
  }
  const close = async () => void await proc.stop("SIGKILL");
  return {
    touched: () => proc.stdout.split("\n").filter((l) => l === "touched").length,
    close,
    [Symbol.asyncDispose]: close,
  };
}
