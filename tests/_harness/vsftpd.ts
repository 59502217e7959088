/**
 * A real vsftpd for FTP tests, inside a network namespace (or on the host's
 * loopback when no namespace is given, for `-R ftp/`).
 *
 * `startVsftpd()` writes a temp config: standalone (`listen=YES`,
 * `background=NO`) on 127.0.0.1, anonymous login without password into a
 * temp root whose `pub/` is writable (upload, mkdir, delete), passive ports
 * from a fixed range announced as 127.0.0.1. Inside a namespace nothing of
 * it, control or data ports, is reachable from the host: only a tunnel that
 * rewrites PASV/EPSV/PORT/EPRT can get a transfer through.
 *
 * vsftpd's own anti-bounce checks stay on (`port_promiscuous=NO`,
 * `pasv_promiscuous=NO`): it accepts a PORT only for the control peer's
 * address and a passive data connection only from it. Through the tunnel
 * both connections come from sshd on the namespace's loopback, and warren
 * rewrites PORT/EPRT to the server's 127.0.0.1, so the checks pass without
 * making vsftpd promiscuous.
 *
 * `close()` kills vsftpd and its per-session processes and removes the dir.
 */
import { freePort, sleep } from "./free_port.ts";
import type { NetnsHost } from "./netns.ts";
import { descendants, killAll } from "./procs.ts";

export interface Vsftpd extends AsyncDisposable {
  host: string;
  port: number;
  /** The anonymous root (not writable by the FTP user). */
  root: string;
  /** `<root>/pub`: writable, also `/pub` over FTP. */
  pub: string;
  log(): Promise<string>;
  close(): Promise<void>;
}

const VSFTPD = "/usr/sbin/vsftpd";
const START_TIMEOUT_MS = 10_000;

export function vsftpdSupport(): { ok: true } | { ok: false; reason: string } {
  try {
    Deno.statSync(VSFTPD);
  } catch {
    return { ok: false, reason: `${VSFTPD} not found` };
  }
  return ftpUser() ? { ok: true } : { ok: false, reason: "no 'ftp' or 'nobody' user" };
}

function ftpUser(): { name: string; uid: number; gid: number } | undefined {
  const passwd = Deno.readTextFileSync("/etc/passwd").split("\n");
  for (const name of ["ftp", "nobody"]) {
    const line = passwd.find((l) => l.startsWith(`${name}:`));
    if (line) {
      const f = line.split(":");
      return { name, uid: Number(f[2]), gid: Number(f[3]) };
    }
  }
  return undefined;
}

export interface VsftpdOptions {
  /** Run inside this namespace (default: on the host's loopback). */
  netns?: NetnsHost;
  /** Control port (default 21 in a namespace, a random one on the host). */
  port?: number;
  /** First passive port; 1000 are used (default 40000 / random on host). */
  pasvMin?: number;
}

export async function startVsftpd(options: VsftpdOptions = {}): Promise<Vsftpd> {
  const s = vsftpdSupport();
  if (!s.ok) throw new Error(`Cannot start vsftpd: ${s.reason}`);
  const user = ftpUser()!;
  const onHost = !options.netns;
  // On the host a random number could be taken (by an outgoing connection, too): ask the OS.
  const port = options.port ?? (onHost ? freePort() : 21);
  const pasvMin = options.pasvMin ??
    (onHost ? 41_000 + Math.floor(Math.random() * 20) * 1000 : 40_000);
  const dir = await Deno.makeTempDir({ prefix: "warren-vsftpd-" });
  await Deno.chmod(dir, 0o755);
  const root = `${dir}/root`;
  const pub = `${root}/pub`;
  const empty = `${dir}/empty`;
  await Deno.mkdir(pub, { recursive: true });
  await Deno.mkdir(empty);
  await Deno.chmod(root, 0o755);
  await Deno.chown(pub, user.uid, user.gid);
  await Deno.chmod(pub, 0o777);
  const logPath = `${dir}/vsftpd.log`;
  const config = `${dir}/vsftpd.conf`;
  await Deno.writeTextFile(
    config,
    [
      "listen=YES",
      "listen_ipv6=NO",
      "listen_address=127.0.0.1",
      `listen_port=${port}`,
      "background=NO",
      "anonymous_enable=YES",
      "no_anon_password=YES",
      `ftp_username=${user.name}`,
      `anon_root=${root}`,
      "local_enable=NO",
      "write_enable=YES",
      "anon_upload_enable=YES",
      "anon_mkdir_write_enable=YES",
      "anon_other_write_enable=YES",
      "anon_world_readable_only=NO",
      "anon_umask=022",
      `secure_chroot_dir=${empty}`,
      "pasv_enable=YES",
      `pasv_min_port=${pasvMin}`,
      `pasv_max_port=${pasvMin + 999}`,
      "pasv_address=127.0.0.1",
      "pasv_promiscuous=NO",
      "port_enable=YES",
      "port_promiscuous=NO",
      "connect_from_port_20=NO",
      "ssl_enable=NO",
      "seccomp_sandbox=NO",
      "isolate=NO",
      "isolate_network=NO",
      "max_clients=0",
      "max_per_ip=0",
      "idle_session_timeout=120",
      "data_connection_timeout=60",
      "dirmessage_enable=NO",
      "hide_ids=YES",
      "xferlog_enable=YES",
      `vsftpd_log_file=${logPath}`,
      "log_ftp_protocol=YES",
      "",
    ].join("\n"),
  );
  const opts: Deno.CommandOptions = { stdin: "null", stdout: "null", stderr: "piped" };
  const child = options.netns
    ? options.netns.command(VSFTPD, [config], opts).spawn()
    : new Deno.Command(VSFTPD, { ...opts, args: [config] }).spawn();
  let exited = false;
  const stderr = new Response(child.stderr).text();
  const status = child.status.finally(() => exited = true);
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      const kids = descendants(child.pid);
      try {
        child.kill("SIGTERM");
      } catch { /* exited */ }
      await status;
      await stderr.catch(() => "");
      await killAll(kids).catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();
  const readLog = () => Deno.readTextFile(logPath).catch(() => "");
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await listening(options.netns, port))) {
    if (exited || Date.now() > deadline) {
      await close();
      throw new Error(`vsftpd did not start on port ${port}: ${await stderr.catch(() => "")}`);
    }
    await sleep(30);
  }
  return {
    host: "127.0.0.1",
    port,
    root,
    pub,
    log: readLog,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** `ss -ltn` inside `netns` (or on the host): the listening "addr:port"s. */
export async function listeningSockets(netns?: NetnsHost): Promise<string[]> {
  const args = ["-H", "-l", "-t", "-n"];
  const opts: Deno.CommandOptions = { stdin: "null", stdout: "piped", stderr: "null" };
  const cmd = netns ? netns.command("ss", args, opts) : new Deno.Command("ss", { ...opts, args });
  const out = await cmd.output();
  return new TextDecoder().decode(out.stdout).split("\n")
    .map((l) => l.trim().split(/\s+/)[3])
    .filter((a): a is string => !!a);
}

async function listening(netns: NetnsHost | undefined, port: number): Promise<boolean> {
  return (await listeningSockets(netns)).includes(`127.0.0.1:${port}`);
}
