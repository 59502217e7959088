/**
 * A real OpenSSH sshd for tests, running inside a network namespace.
 *
 * `startSshd()` makes a temp dir with an ed25519 host key, two authorized
 * client keys (plain, and encrypted with `passphrase`), a known_hosts file and
 * an sshd_config listening on the namespace's veth address at a random high
 * port. It checks the config with `sshd -t`, starts `sshd -D -E log` inside the
 * namespace and waits until the port accepts from the host.
 *
 * `stop()` ends the listener and every per-connection sshd it forked, so open
 * sessions drop as on a server restart; `restart()` starts again on the same
 * address, port and keys. `close()` also removes the temp dir and the
 * namespace if we created it. Extra config lines come first (sshd keeps the
 * first value it reads), except a `Match` block, which goes last. LogLevel is
 * DEBUG1 so that forwarding requests (direct-tcpip, tcpip-forward) show up in
 * `log()`.
 */

import { userInfo } from "node:os";
import { randomPort, sleep } from "./free_port.ts";
import { descendants, killAll, run } from "./procs.ts";
import { createNetnsHost, type NetnsHost, netnsSupport } from "./netns.ts";

export interface Sshd extends AsyncDisposable {
  host: string;
  port: number;
  user: string;
  dir: string;
  clientKey: string;
  clientKeyEncrypted: string;
  passphrase: string;
  knownHosts: string;
  hostKeyFingerprint: string;
  hostKeyLine: string;
  netns: NetnsHost;
  log(): Promise<string>;
  stop(): Promise<void>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

const SSHD = "/usr/sbin/sshd";
const KEYGEN = ["/usr/bin/ssh-keygen", "/bin/ssh-keygen"];
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

let support: { ok: true } | { ok: false; reason: string } | undefined;
let keygenPath = KEYGEN[0];

/** Whether sshd, ssh-keygen and network namespaces are usable (cached). */
export function sshdSupport(): { ok: true } | { ok: false; reason: string } {
  if (support) return support;
  const found = KEYGEN.find(exists);
  if (!exists(SSHD)) support = { ok: false, reason: `${SSHD} not found` };
  else if (!found) support = { ok: false, reason: "ssh-keygen not found" };
  else {
    keygenPath = found;
    support = netnsSupport();
  }
  return support;
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * Start sshd in `options.netns`, or in a namespace of its own. It listens on
 * the namespace's veth address, or on `listenAddress` (an address of a link
 * to another namespace, see linkNetns): then readiness is read from its log,
 * since the host cannot reach it.
 */
export async function startSshd(
  options: { netns?: NetnsHost; extraConfig?: string[]; listenAddress?: string } = {},
): Promise<Sshd> {
  const s = sshdSupport();
  if (!s.ok) throw new Error(`Cannot start sshd: ${s.reason}`);
  const netns = options.netns ?? await createNetnsHost();
  const dir = await Deno.makeTempDir({ prefix: "warren-sshd-" });
  const sshd = new SshdImpl(netns, !options.netns, dir, options.listenAddress);
  try {
    await Deno.mkdir("/run/sshd", { recursive: true, mode: 0o755 });
    await sshd.setup(options.extraConfig ?? []);
  } catch (err) {
    await sshd.close();
    throw err;
  }
  return sshd;
}

class SshdImpl implements Sshd {
  host: string;
  port = 0;
  user = userInfo().username;
  clientKey: string;
  clientKeyEncrypted: string;
  passphrase = "passphrase";
  knownHosts: string;
  hostKeyFingerprint = "";
  hostKeyLine = "";
  #config: string;
  #logPath: string;
  #hostKey: string;
  #extra: string[] = [];
  #child?: Deno.ChildProcess;
  #exited?: Promise<Deno.CommandStatus>;
  #closing?: Promise<void>;
  /** Readiness from the log ("Server listening on"): the host cannot connect. */
  #viaLog: boolean;

  constructor(
    readonly netns: NetnsHost,
    readonly ownsNetns: boolean,
    readonly dir: string,
    listenAddress?: string,
  ) {
    this.host = listenAddress ?? netns.nsAddr;
    this.#viaLog = listenAddress !== undefined;
    this.clientKey = `${dir}/client_ed25519`;
    this.clientKeyEncrypted = `${dir}/client_ed25519_encrypted`;
    this.knownHosts = `${dir}/known_hosts`;
    this.#config = `${dir}/sshd_config`;
    this.#logPath = `${dir}/sshd.log`;
    this.#hostKey = `${dir}/host_ed25519`;
  }

  async setup(extra: string[]): Promise<void> {
    this.#extra = extra;
    const keygen = (file: string, pass: string, comment: string) =>
      run(keygenPath, [
        "-q",
        "-t",
        "ed25519",
        "-N",
        pass,
        "-C",
        comment,
        "-f",
        file,
      ]);
    await keygen(this.#hostKey, "", "warren-test-host");
    await keygen(this.clientKey, "", "warren-test-client");
    await keygen(this.clientKeyEncrypted, this.passphrase, "warren-test-enc");
    const pub = (f: string) => Deno.readTextFile(`${f}.pub`);
    await Deno.writeTextFile(
      `${this.dir}/authorized_keys`,
      (await pub(this.clientKey)) + (await pub(this.clientKeyEncrypted)),
    );
    const hostPub = (await pub(this.#hostKey)).trim().split(" ");
    const fp = await run(keygenPath, [
      "-l",
      "-E",
      "sha256",
      "-f",
      `${this.#hostKey}.pub`,
    ]);
    this.hostKeyFingerprint = fp.split(" ")[1];
    const penalties = await sshdHasPenalties();
    for (let attempt = 1;; attempt++) {
      this.port = randomPort();
      this.hostKeyLine = `[${this.host}]:${this.port} ${hostPub[0]} ${hostPub[1]}`;
      await Deno.writeTextFile(this.knownHosts, `${this.hostKeyLine}\n`);
      await Deno.writeTextFile(this.#config, this.#configText(penalties));
      await run(this.netns.command(SSHD, ["-t", "-f", this.#config], {
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }));
      try {
        return await this.#start();
      } catch (err) {
        const busy = (await this.log()).includes("Address already in use");
        if (!busy || attempt >= 5) throw err;
      }
    }
  }

  #configText(penalties: boolean): string {
    const match = this.#extra.findIndex((l) => /^\s*Match\s/i.test(l));
    const head = match < 0 ? this.#extra : this.#extra.slice(0, match);
    const tail = match < 0 ? [] : this.#extra.slice(match);
    return [
      "# Generated by tests/_harness/sshd.ts",
      ...head,
      `ListenAddress ${this.host}:${this.port}`,
      `HostKey ${this.#hostKey}`,
      `PidFile ${this.dir}/sshd.pid`,
      `AuthorizedKeysFile ${this.dir}/authorized_keys`,
      "StrictModes no",
      "UsePAM no",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PermitRootLogin prohibit-password",
      "AllowTcpForwarding yes",
      "GatewayPorts no",
      "X11Forwarding no",
      "PrintMotd no",
      "UseDNS no",
      "MaxStartups 100",
      "MaxSessions 100",
      "LogLevel DEBUG1",
      ...(penalties ? ["PerSourcePenalties no"] : []),
      ...tail,
      "",
    ].join("\n");
  }

  async #start(): Promise<void> {
    const ready = `Server listening on ${this.host} port ${this.port}`;
    const before = this.#viaLog ? (await this.log()).split(ready).length : 0;
    const child = this.netns.command(
      SSHD,
      ["-D", "-E", this.#logPath, "-f", this.#config],
      { stdin: "null", stdout: "null", stderr: "null" },
    ).spawn();
    this.#child = child;
    let exited = false;
    this.#exited = child.status.finally(() => exited = true);
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!exited && Date.now() < deadline) {
      if (this.#viaLog) {
        if ((await this.log()).split(ready).length > before) return;
      } else {
        try {
          (await Deno.connect({ hostname: this.host, port: this.port })).close();
          return;
        } catch { /* not yet */ }
      }
      await sleep(30);
    }
    const why = exited ? "exited early" : `did not accept in ${START_TIMEOUT_MS} ms`;
    await this.stop();
    throw new Error(
      `sshd on ${this.host}:${this.port} ${why}; log:\n${await this.log()}`,
    );
  }

  async log(): Promise<string> {
    try {
      return await Deno.readTextFile(this.#logPath);
    } catch {
      return "";
    }
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    const kids = descendants(child.pid);
    try {
      child.kill("SIGTERM");
    } catch { /* already exited */ }
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }, STOP_TIMEOUT_MS);
    await this.#exited;
    clearTimeout(timer);
    await killAll(kids);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.#start();
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        await this.stop();
      } finally {
        await Deno.remove(this.dir, { recursive: true }).catch(() => {});
        if (this.ownsNetns) await this.netns.close();
      }
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

let penaltiesCache: boolean | undefined;

/** OpenSSH 9.8+ penalises failing clients; tests must be able to fail. */
async function sshdHasPenalties(): Promise<boolean> {
  if (penaltiesCache !== undefined) return penaltiesCache;
  const out = await new Deno.Command(SSHD, {
    args: ["-V"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stderr) +
    new TextDecoder().decode(out.stdout);
  const m = /OpenSSH_(\d+)\.(\d+)/.exec(text);
  penaltiesCache = !!m &&
    (Number(m[1]) > 9 || (m[1] === "9" && Number(m[2]) >= 8));
  return penaltiesCache;
}
