/**
 * The start-up the real-peer tunnel tests share (tests/_harness/proxy_rig.ts
 * for -L socks/, tests/_harness/ftp_peers.ts for ftp/): a network namespace
 * (optionally with its own /etc/hosts), OpenSSH sshd inside it, warren's SSH
 * connection to it (in-process, strict host key checking against the
 * harness's known_hosts) and a temp dir for client files; the arguments that
 * point the warren CLI at the same sshd; curl and other real clients run with
 * hard time limits; and a poll for conditions no event announces.
 *
 * Extras (origins, vsftpd, tunnels) are started by the caller's `extra()`,
 * which registers their cleanup with `defer()`: everything is torn down in
 * reverse order by `close()`, also when start-up fails half way.
 */
import assert from "node:assert/strict";
import { type ConnectOptions, connectSsh, type SshConnection } from "../../lib/ssh/connection.ts";
import { LocalTunnel } from "../../lib/tunnel/local.ts";
import { ActivityTracker } from "../../lib/tunnel/activity.ts";
import { createNetnsHost, type NetnsHost } from "./netns.ts";
import { tempDir } from "./temp_dir.ts";
import { type Sshd, sshdSupport, startSshd } from "./sshd.ts";

/** What a harness SSH server (sshd.ts, or ssh_server.ts on 127.0.0.1) offers a client. */
export interface HarnessServer {
  host?: string;
  port: number;
  user?: string;
  clientKey: string;
  knownHosts: string;
}

/** Connect options for a harness server: its key, strict host keys, no keepalive. */
export function sshOptions(
  server: HarnessServer,
  extra: Partial<ConnectOptions> = {},
): ConnectOptions {
  return {
    host: server.host ?? "127.0.0.1",
    port: server.port,
    user: server.user ?? "tester",
    identityFiles: [server.clientKey],
    explicitIdentities: true,
    hostKeyPolicy: "strict",
    knownHostsFiles: [server.knownHosts],
    connectTimeout: 10,
    keepaliveInterval: 0,
    keepaliveCountMax: 3,
    ...extra,
  };
}

/** An in-process `-L` on a free loopback port to 127.0.0.1:`dstPort` as `ssh` sees it (not started). */
export function tunnelTo(ssh: SshConnection, dstPort: number): LocalTunnel {
  return new LocalTunnel(
    { protocol: "tcp", listenAddress: "127.0.0.1", listenPort: 0, dstHost: "127.0.0.1", dstPort },
    false,
    (a, b, c, d) => ssh.openDirect(a, b, c, d),
    new ActivityTracker(),
  );
}

/** warren CLI arguments that reach `sshd` as the in-process connection does. */
export function warrenArgs(sshd: Sshd, ...extra: string[]): string[] {
  return [
    ...["-i", sshd.clientKey, "-o", `UserKnownHostsFile=${sshd.knownHosts}`],
    ...["--hostkey-policy=strict", "-B", ...extra],
    `${sshd.user}@${sshd.host}#${sshd.port}`,
  ];
}

/** Why the real-peer tests cannot run here (sshd, netns, `tools`), or undefined. */
export function realPeersUnsupported(...tools: string[]): string | undefined {
  const s = sshdSupport();
  if (!s.ok) return s.reason;
  for (const tool of tools) {
    const found = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"].some((d) => {
      try {
        return Deno.statSync(`${d}/${tool}`).isFile;
      } catch {
        return false;
      }
    });
    if (!found) return `${tool} not found`;
  }
  return undefined;
}

export interface RealPeers extends AsyncDisposable {
  netns: NetnsHost;
  sshd: Sshd;
  ssh: SshConnection;
  /** A temp dir for the clients' local files. */
  work: string;
  /** Run `cleanup` at close(), before what was started earlier. */
  defer(cleanup: () => Promise<unknown>): void;
  close(): Promise<void>;
}

export interface RealPeersOptions {
  /** Extra sshd_config lines. */
  sshdConfig?: string[];
  /** The namespace's /etc/hosts (it then has no DNS: unknown names fail at once). */
  hosts?: string;
}

/** The namespace, sshd and the connection; then `extra()` for what a test file adds. */
export async function startRealPeers<T extends object = Record<never, never>>(
  options: RealPeersOptions = {},
  extra?: (peers: RealPeers) => Promise<T>,
): Promise<RealPeers & T> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  };
  const defer = (c: () => Promise<unknown>) => void cleanups.push(c);
  try {
    const netns = await createNetnsHost();
    defer(() => netns.close());
    if (options.hosts !== undefined) {
      // `ip netns exec` bind-mounts /etc/netns/NAME/* over /etc.
      const dir = `/etc/netns/${netns.name}`;
      await Deno.mkdir(dir, { recursive: true });
      defer(() => Deno.remove(dir, { recursive: true }));
      await Deno.writeTextFile(`${dir}/hosts`, options.hosts);
      await Deno.writeTextFile(`${dir}/resolv.conf`, "nameserver 127.0.0.1\noptions attempts:1\n");
    }
    const sshd = await startSshd({ netns, extraConfig: options.sshdConfig });
    defer(() => sshd.close());
    const ssh = await connectSsh(sshOptions(sshd));
    defer(() => ssh.close());
    const work = await Deno.makeTempDir({ prefix: "warren-peers-work-" });
    defer(() => Deno.remove(work, { recursive: true }));
    const peers: RealPeers = { netns, sshd, ssh, work, defer, close, [Symbol.asyncDispose]: close };
    return Object.assign(peers, extra ? await extra(peers) : {}) as RealPeers & T;
  } catch (err) {
    await close();
    throw err;
  }
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Run a command (in `netns` if given) to completion, killed after `timeoutMs`,
 * with `env` added to the environment. HOME is an empty directory of its own,
 * removed afterwards: no ~/.curlrc or ~/.gitconfig comes in, and what the
 * command saves there (lftp's history, Chromium's crash reports) goes away.
 */
export async function run(
  cmd: string,
  args: string[],
  options: { netns?: NetnsHost; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<RunResult> {
  await using home = await tempDir("warren-home-");
  const opts: Deno.CommandOptions = {
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    // No proxy, ~/.curlrc or locale from the environment.
    env: {
      LC_ALL: "C",
      HOME: home.path,
      XDG_CONFIG_HOME: `${home.path}/.config`,
      XDG_CACHE_HOME: `${home.path}/.cache`,
      XDG_DATA_HOME: `${home.path}/.local/share`,
      ...Object.fromEntries(PROXY_VARS.map((v) => [v, ""])),
      ...options.env,
    },
  };
  const child = options.netns
    ? options.netns.command(cmd, args, opts).spawn()
    : new Deno.Command(cmd, { ...opts, args }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
  }, options.timeoutMs ?? 60_000);
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

const PROXY_VARS = ["http_proxy", "https_proxy", "ftp_proxy", "all_proxy", "no_proxy"].flatMap(
  (v) => [v, v.toUpperCase()],
);

/** curl, silent but for errors, 60 s at most (in `netns` if given). */
export function curl(args: string[], netns?: NetnsHost): Promise<RunResult> {
  return run("curl", ["-sS", "--max-time", "60", ...args], { netns });
}

/** Resolve once `cond()` holds (polling), or fail after `ms`. */
export async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Wait (up to 5 s) until no IPv6 address is still tentative: a fresh veth's
 * link-local address finishing duplicate address detection is a network
 * change to Chromium, which then aborts the requests it has in flight
 * (ERR_NETWORK_CHANGED). Browser tests call it before they start Chromium.
 */
export async function networkSettled(): Promise<void> {
  for (const end = Date.now() + 5_000; Date.now() < end;) {
    const r = await run("ip", ["-6", "addr", "show", "tentative"]);
    if (r.code !== 0 || r.stdout.trim() === "") return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Headless Chromium printing a page's DOM once loaded, with a fresh profile
 * and its background traffic off; `proxyArgs` say how it reaches the page
 * (`--proxy-server=...`, `--proxy-pac-url=...`). Waits for networkSettled()
 * first.
 */
export async function chromiumDom(url: string, proxyArgs: string[]): Promise<string> {
  await networkSettled();
  await using profile = await tempDir("warren-chromium-");
  const r = await run("chromium", [
    "--headless",
    "--no-sandbox", // the tests run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    `--user-data-dir=${profile.path}`,
    ...proxyArgs,
    "--dump-dom",
    url,
  ], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}
