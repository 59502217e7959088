/**
 * Real peers for the FTP tunnel tests: the shared rig (tests/_harness/
 * real_peers.ts: sshd in a namespace, warren's SSH connection) plus vsftpd,
 * in the same namespace for -L or on the host for -R, and the FTP tunnels
 * and clients (curl, lftp) the tests drive.
 */
import assert from "node:assert/strict";
import { Client } from "basic-ftp";
import { ActivityTracker } from "../../lib/tunnel/activity.ts";
import type { ForwardSpec } from "../../lib/config/forward.ts";
import { FtpLocalTunnel, FtpRemoteTunnel } from "../../lib/tunnel/ftp/tunnel.ts";
import type { NetnsHost } from "./netns.ts";
import {
  curl as curlAny,
  type RealPeers,
  realPeersUnsupported,
  run,
  type RunResult,
  startRealPeers,
} from "./real_peers.ts";
import { startVsftpd, type Vsftpd, vsftpdSupport } from "./vsftpd.ts";
import { skipWhen } from "./skip.ts";

export { until } from "./real_peers.ts";

/** Why the real-peer FTP tests cannot run here, or undefined. */
export function ftpPeersUnsupported(): string | undefined {
  const v = vsftpdSupport();
  return realPeersUnsupported("curl", "lftp", "ss") ?? (v.ok ? undefined : v.reason);
}

/** `ignore` for the real-peer FTP tests of a file; when true, one line on stderr says why. */
export function ignoreFtpTests(what: string): boolean {
  return skipWhen(what, ftpPeersUnsupported());
}

export type FtpPeers = RealPeers & { vsftpd: Vsftpd };

/** sshd in a namespace, vsftpd there (`where: "server"`) or here. */
export function startFtpPeers(
  where: "server" | "client" = "server",
  sshdConfig?: string[],
): Promise<FtpPeers> {
  return startRealPeers({ sshdConfig }, async (peers) => {
    const vsftpd = await startVsftpd(where === "server" ? { netns: peers.netns } : {});
    peers.defer(() => vsftpd.close());
    return { vsftpd };
  });
}

type Closable<T> = T & AsyncDisposable;

/**
 * `-L ftp/127.0.0.1:0:127.0.0.1:<vsftpd>` on the peers' connection; with
 * `gateway`, `-g -L ftp/0:...` (every interface).
 */
export async function ftpLocal(
  peers: FtpPeers,
  gateway = false,
): Promise<Closable<FtpLocalTunnel>> {
  const spec: ForwardSpec = {
    protocol: "ftp",
    listenAddress: gateway ? undefined : "127.0.0.1",
    listenPort: 0,
    dstHost: "127.0.0.1",
    dstPort: peers.vsftpd.port,
  };
  const tunnel = new FtpLocalTunnel(spec, gateway, peers.ssh, new ActivityTracker());
  await tunnel.start();
  return Object.assign(tunnel, { [Symbol.asyncDispose]: () => tunnel.close() });
}

/** `-R ftp/[listenAddress:]0:127.0.0.1:<vsftpd>` (default: the server binds its loopback). */
export async function ftpRemote(
  peers: FtpPeers,
  listenAddress?: string,
): Promise<Closable<FtpRemoteTunnel>> {
  const spec: ForwardSpec = {
    protocol: "ftp",
    listenAddress,
    listenPort: 0,
    dstHost: "127.0.0.1",
    dstPort: peers.vsftpd.port,
  };
  const tunnel = new FtpRemoteTunnel(spec, peers.ssh, new ActivityTracker());
  await tunnel.start();
  return Object.assign(tunnel, { [Symbol.asyncDispose]: () => tunnel.close() });
}

/** A basic-ftp client logged in anonymously on `port` (closed by `await using`). */
export async function basicFtp(port: number): Promise<Client & Disposable> {
  const client = new Client(20_000);
  try {
    await client.access({ host: "127.0.0.1", port, user: "anonymous" });
  } catch (err) {
    client.close();
    throw err;
  }
  return Object.assign(client, { [Symbol.dispose]: () => client.close() });
}

/** curl's flags for each FTP data mode. */
export const CURL_MODES: readonly [mode: string, flags: string[]][] = [
  ["EPSV", []],
  ["PASV", ["--disable-epsv"]],
  ["EPRT", ["-P", "-"]],
  ["PORT", ["-P", "-", "--disable-eprt"]],
];

/** curl downloads `url` in every data mode (in `netns` if given); each must equal `file`. */
export async function downloadInEveryMode(
  peers: FtpPeers,
  url: string,
  file: Uint8Array,
  netns?: NetnsHost,
): Promise<void> {
  for (const [mode, flags] of CURL_MODES) {
    const got = `${peers.work}/got-${mode}.bin`;
    const r = await curl([...flags, "-o", got, url], netns);
    assert.equal(r.code, 0, `${mode}: ${r.stderr}`);
    assert.deepEqual(await Deno.readFile(got), file, mode);
  }
}

/** curl --fail against an ftp:// URL. */
export function curl(args: string[], netns?: NetnsHost): Promise<RunResult> {
  return curlAny(["--fail", ...args], netns);
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
