/**
 * Launches tests/_harness/origin_server.ts as a child process: inside a test
 * namespace when `netns` is given (bound to the namespace's loopback, so only
 * SSH forwarding reaches it), otherwise on the host's loopback.
 *
 * The server prints one JSON line with its ports when ready; `startOrigin()`
 * reads it (bounded) and returns. `close()` kills the process and awaits it.
 */

import type { NetnsHost } from "./netns.ts";

export { patternBytes } from "./pattern.ts";

export interface Origin extends AsyncDisposable {
  /** HTTP on 127.0.0.1 and [::1], same port number. */
  httpPort: number;
  /** Raw TCP echo with half-close, on 127.0.0.1 and ::1. */
  echoPort: number;
  /** Whether ::1 is served too (false only when IPv6 is off). */
  ipv6: boolean;
  /** HTTPS with the same endpoints, when started with `tls`. */
  httpsPort?: number;
  close(): Promise<void>;
}

const READY_TIMEOUT_MS = 20_000;
const SERVER = new URL("./origin_server.ts", import.meta.url).href;

export interface OriginOptions {
  /** Run in this namespace, bound to its loopback. */
  netns?: NetnsHost;
  /** Serve HTTPS too, with this PEM certificate and key (paths). */
  tls?: { cert: string; key: string };
  /** Serve the files under this directory at /files/. */
  files?: string;
}

/** Start the origin servers. */
export async function startOrigin(options: OriginOptions = {}): Promise<Origin> {
  const { tls, files } = options;
  const readable = [...(tls ? [tls.cert, tls.key] : []), ...(files ? [files] : [])];
  const args = [
    "run",
    "--quiet",
    "--no-config",
    "--no-lock",
    "--no-prompt",
    "--allow-net",
    ...(readable.length ? [`--allow-read=${readable.join(",")}`] : []),
    SERVER,
    ...(tls ? ["--cert", tls.cert, "--key", tls.key] : []),
    ...(files ? ["--files", files] : []),
  ];
  const opts: Deno.CommandOptions = {
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  };
  const child = options.netns
    ? options.netns.command(Deno.execPath(), args, opts).spawn()
    : new Deno.Command(Deno.execPath(), { ...opts, args }).spawn();
  const kill = async () => {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
    await child.status;
  };
  let ports: { httpPort: number; echoPort: number; ipv6: boolean; httpsPort?: number };
  try {
    ports = JSON.parse(await firstLine(child.stdout, READY_TIMEOUT_MS));
  } catch (err) {
    await kill();
    throw new Error(`Origin server did not start: ${(err as Error).message}`);
  }
  let closing: Promise<void> | undefined;
  const close = () => closing ??= kill();
  return { ...ports, close, [Symbol.asyncDispose]: close };
}

/** Read one line from `stream`, then cancel it; reject after `timeoutMs`. */
async function firstLine(
  stream: ReadableStream<Uint8Array>,
  timeoutMs: number,
): Promise<string> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no ready line within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  let text = "";
  try {
    while (!text.includes("\n")) {
      const { value, done } = await Promise.race([reader.read(), timeout]);
      if (done) throw new Error(`exited before ready (output: ${text})`);
      text += value;
    }
    return text.slice(0, text.indexOf("\n"));
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => {});
  }
}
