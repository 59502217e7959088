/**
 * Real peers for the FTP tunnel tests: OpenSSH sshd in a namespace, vsftpd
 * (in the same namespace for -L, on the host for -R), warren's SSH
 * connection in-process (strict host key checking against the harness's
 * known_hosts), and runners for the real clients (curl, lftp) with hard time
 * limits.
 */
import { connectSsh, type SshConnection } from "../../lib/ssh/connection.ts";
import { ActivityTracker } from "../../lib/client/run.ts";
import { FtpLocalTunnel, FtpRemoteTunnel } from "../../lib/tunnel/ftp.ts";
import type { ForwardSpec } from "../../lib/cli/forward.ts";
import type { NetnsHost } from "./netns.ts";
import { type Sshd, sshdSupport, startSshd } from "./sshd.ts";
import { startVsftpd, type Vsftpd, vsftpdSupport } from "./vsftpd.ts";

/** Why the real-peer FTP tests cannot run here, or undefined. */
export function ftpPeersUnsupported(): string | undefined {
  const s = sshdSupport();
  if (!s.ok) return s.reason;
  const v = vsftpdSupport();
  if (!v.ok) return v.reason;
  for (const tool of ["curl", "lftp", "ss"]) {
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

export interface FtpPeers extends AsyncDisposable {
  sshd: Sshd;
  vsftpd: Vsftpd;
  ssh: SshConnection;
  /** A temp dir for the clients' local files. */
  work: string;
  close(): Promise<void>;
}

/** sshd in a namespace, vsftpd there (`where: "server"`) or here. */
export async function startFtpPeers(where: "server" | "client" = "server"): Promise<FtpPeers> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    cleanups.length = 0;
  };
  try {
    const sshd = await startSshd();
    cleanups.push(() => sshd.close());
    const vsftpd = await startVsftpd(where === "server" ? { netns: sshd.netns } : {});
    cleanups.push(() => vsftpd.close());
    const work = await Deno.makeTempDir({ prefix: "warren-ftp-work-" });
    cleanups.push(() => Deno.remove(work, { recursive: true }));
    const ssh = await connectSsh({
      host: sshd.host,
      port: sshd.port,
      user: sshd.user,
      identityFiles: [sshd.clientKey],
      explicitIdentities: true,
      hostKeyPolicy: "strict",
      knownHostsFiles: [sshd.knownHosts],
      connectTimeout: 10,
      keepaliveInterval: 0,
      keepaliveCountMax: 3,
    });
    cleanups.push(() => ssh.close());
    return { sshd, vsftpd, ssh, work, close, [Symbol.asyncDispose]: close };
  } catch (err) {
    await close();
    throw err;
  }
}

type Disposable<T> = T & AsyncDisposable;

/** `-L ftp/127.0.0.1:0:127.0.0.1:<vsftpd>` on the peers' connection. */
export async function ftpLocal(peers: FtpPeers): Promise<Disposable<FtpLocalTunnel>> {
  const spec: ForwardSpec = {
    protocol: "ftp",
    listenAddress: "127.0.0.1",
    listenPort: 0,
    dstHost: "127.0.0.1",
    dstPort: peers.vsftpd.port,
  };
  const tunnel = new FtpLocalTunnel(spec, false, peers.ssh, new ActivityTracker());
  await tunnel.start();
  return Object.assign(tunnel, { [Symbol.asyncDispose]: () => tunnel.close() });
}

/** `-R ftp/0:127.0.0.1:<vsftpd>` (the server binds its loopback). */
export async function ftpRemote(peers: FtpPeers): Promise<Disposable<FtpRemoteTunnel>> {
  const spec: ForwardSpec = {
    protocol: "ftp",
    listenPort: 0,
    dstHost: "127.0.0.1",
    dstPort: peers.vsftpd.port,
  };
  const tunnel = new FtpRemoteTunnel(spec, peers.ssh, new ActivityTracker());
  await tunnel.start();
  return Object.assign(tunnel, { [Symbol.asyncDispose]: () => tunnel.close() });
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a command (in `netns` if given) to completion, killed after `timeoutMs`. */
export async function run(
  cmd: string,
  args: string[],
  options: { netns?: NetnsHost; timeoutMs?: number } = {},
): Promise<RunResult> {
  const opts: Deno.CommandOptions = {
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { LC_ALL: "C", HOME: "/nonexistent" },
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

/** curl against an ftp:// URL, no proxy from the environment. */
export function curl(args: string[], netns?: NetnsHost): Promise<RunResult> {
  return run("curl", ["-sS", "--fail", "--noproxy", "*", "-m", "60", ...args], { netns });
}

/** lftp running `script`, with bounded retries and timeouts. */
export function lftp(script: string[], netns?: NetnsHost): Promise<RunResult> {
  const head = ["set net:max-retries 1", "set net:timeout 15", "set cmd:fail-exit yes"];
  return run("lftp", ["-c", [...head, ...script].join("; ")], { netns });
}

/** vsftpd's log lines for FTP commands: ["EPSV", "RETR /pub/a", ...]. */
export async function ftpCommands(vsftpd: Vsftpd): Promise<string[]> {
  return [...(await vsftpd.log()).matchAll(/FTP command: Client "[^"]*", "([^"]*)"/g)]
    .map((m) => m[1]);
}
