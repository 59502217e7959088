/**
 * Real proxy servers from Debian for the transport tests, each started inside
 * a test network namespace, listening on its veth address:
 *
 * - tinyproxy (HTTP CONNECT), optionally with Basic authentication; CONNECT
 *   is allowed only to `connectPorts` (others get 403), and without the
 *   credentials it answers 407.
 * - microsocks (SOCKS5), optionally with a user name and password.
 *
 * So an sshd on the namespace's loopback is reachable from the host only
 * through the proxy. `close()` kills the server and waits for it.
 */
import { randomPort, sleep } from "./free_port.ts";
import type { NetnsHost } from "./netns.ts";

export const TINYPROXY = "/usr/bin/tinyproxy";
export const MICROSOCKS = "/usr/bin/microsocks";
export const NC = "/usr/bin/nc";

export interface ProxyServer extends AsyncDisposable {
  host: string;
  port: number;
  /** What the server printed so far. */
  output(): string;
  close(): Promise<void>;
}

/** Why `path` cannot be used, or undefined. */
export function missingTool(path: string, pkg: string): string | undefined {
  try {
    Deno.statSync(path);
    return undefined;
  } catch {
    return `${path} not found (Debian package ${pkg})`;
  }
}

const START_TIMEOUT_MS = 10_000;

async function startServer(
  netns: NetnsHost,
  cmd: string,
  args: string[],
  port: number,
): Promise<ProxyServer> {
  const child = netns.command(cmd, args, { stdin: "null", stdout: "piped", stderr: "piped" })
    .spawn();
  let out = "";
  const collect = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s.pipeThrough(new TextDecoderStream())) out += chunk;
  };
  const collected = Promise.all([collect(child.stdout), collect(child.stderr)]);
  let exited = false;
  const status = child.status.finally(() => exited = true);
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await status;
      await collected;
    })();
  const host = netns.nsAddr;
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!exited && Date.now() < deadline) {
    try {
      (await Deno.connect({ hostname: host, port })).close();
      return { host, port, output: () => out, close, [Symbol.asyncDispose]: close };
    } catch { /* not yet */ }
    await sleep(30);
  }
  await close();
  throw new Error(`${cmd} did not start on ${host}:${port}: ${out}`);
}

/** tinyproxy in `netns`, allowing CONNECT to `connectPorts` only. */
export async function startTinyproxy(
  netns: NetnsHost,
  dir: string,
  opts: { connectPorts: number[]; basicAuth?: { user: string; password: string } },
): Promise<ProxyServer> {
  const port = randomPort();
  const conf = `${dir}/tinyproxy-${port}.conf`;
  await Deno.writeTextFile(
    conf,
    [
      `Port ${port}`,
      `Listen ${netns.nsAddr}`,
      "Timeout 60",
      "MaxClients 50",
      `Allow ${netns.hostAddr}`,
      ...opts.connectPorts.map((p) => `ConnectPort ${p}`),
      "LogLevel Info",
      ...(opts.basicAuth ? [`BasicAuth ${opts.basicAuth.user} ${opts.basicAuth.password}`] : []),
      "",
    ].join("\n"),
  );
  return await startServer(netns, TINYPROXY, ["-d", "-c", conf], port);
}

/** microsocks (SOCKS5) in `netns`, with a user and password if given. */
export function startMicrosocks(
  netns: NetnsHost,
  opts: { auth?: { user: string; password: string } } = {},
): Promise<ProxyServer> {
  const port = randomPort();
  const auth = opts.auth ? ["-u", opts.auth.user, "-P", opts.auth.password] : [];
  return startServer(netns, MICROSOCKS, ["-i", netns.nsAddr, "-p", String(port), ...auth], port);
}
