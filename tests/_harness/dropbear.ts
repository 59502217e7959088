/**
 * A real dropbear SSH server for tests, inside a network namespace, as the
 * OpenSSH rig (tests/_harness/sshd.ts) runs sshd.
 *
 * `startDropbear()` makes a temp dir with a host key of `hostKeyType`
 * (dropbearkey) and a client key of `clientKeyType` (ssh-keygen, OpenSSH's
 * format, which warren reads), a known_hosts line for the address and port,
 * and starts `dropbear -F -E` on the namespace's veth address, password
 * logins off, with `-W window` when given (dropbear's receive window: what a
 * client may send it unacknowledged; its default is 24 KiB).
 *
 * dropbear has no AuthorizedKeysFile option: it reads
 * ~/.ssh/authorized_keys of the user logging in. Inside the namespace
 * (`ip netns exec` bind-mounts /etc/netns/NAME/* over /etc) a passwd of its
 * own gives that user the temp dir as home, so nothing outside the test is
 * read or written.
 *
 * `log()` is what dropbear printed; `close()` ends it and every session it
 * forked, and removes the temp dir (and the namespace if it made one).
 */
import { userInfo } from "node:os";
import { randomPort, sleep } from "./free_port.ts";
import { LiveProc } from "./live_proc.ts";
import { createNetnsHost, type NetnsHost, netnsSupport } from "./netns.ts";
import { descendants, killAll, run } from "./procs.ts";

export interface Dropbear extends AsyncDisposable {
  host: string;
  port: number;
  user: string;
  dir: string;
  clientKey: string;
  knownHosts: string;
  netns: NetnsHost;
  log(): string;
  close(): Promise<void>;
}

export interface DropbearOptions {
  netns?: NetnsHost;
  /** dropbearkey -t: ed25519 (default), ecdsa, rsa. */
  hostKeyType?: string;
  /** ssh-keygen -t for the client key: ed25519 (default), ecdsa, rsa. */
  clientKeyType?: string;
  /** dropbear -W: its per-channel receive window in bytes. */
  window?: number;
}

const DROPBEAR = "/usr/sbin/dropbear";
const DROPBEARKEY = "/usr/bin/dropbearkey";
const KEYGEN = "/usr/bin/ssh-keygen";
const START_TIMEOUT_MS = 10_000;

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** Why dropbear cannot run here (the tools, or network namespaces), or undefined. */
export function dropbearUnsupported(): string | undefined {
  if (!isFile(DROPBEAR)) return `${DROPBEAR} not found (Debian package dropbear-bin)`;
  if (!isFile(DROPBEARKEY)) return `${DROPBEARKEY} not found (Debian package dropbear-bin)`;
  if (!isFile(KEYGEN)) return `${KEYGEN} not found (Debian package openssh-client)`;
  const ns = netnsSupport();
  return ns.ok ? undefined : ns.reason;
}

/** Start dropbear in `options.netns`, or in a namespace of its own. */
export async function startDropbear(options: DropbearOptions = {}): Promise<Dropbear> {
  const why = dropbearUnsupported();
  if (why) throw new Error(`Cannot start dropbear: ${why}`);
  const netns = options.netns ?? await createNetnsHost();
  const dir = await Deno.makeTempDir({ prefix: "warren-dropbear-" });
  const etc = `/etc/netns/${netns.name}`;
  let proc: LiveProc | undefined;
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      try {
        if (proc) {
          const kids = descendants(proc.child.pid);
          await proc.stop("SIGTERM");
          await killAll(kids);
        }
      } finally {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
        await Deno.remove(`${etc}/passwd`).catch(() => {});
        await Deno.remove(`${etc}/shadow`).catch(() => {});
        await Deno.remove(etc).catch(() => {}); // when nothing else is in it
        if (!options.netns) await netns.close();
      }
    })();
  try {
    const user = userInfo().username;
    const hostKey = `${dir}/host_key`;
    const hostType = options.hostKeyType ?? "ed25519";
    await run(DROPBEARKEY, ["-t", hostType, "-f", hostKey]);
    const hostPub = (await run(DROPBEARKEY, ["-y", "-f", hostKey]))
      .split("\n").find((l) => /^(ssh|ecdsa)-/.test(l))?.split(" ");
    if (!hostPub) throw new Error("dropbearkey -y printed no public key");
    const clientKey = `${dir}/client_key`;
    await run(KEYGEN, [
      ...["-q", "-t", options.clientKeyType ?? "ed25519", "-N", ""],
      ...["-C", "warren-test-client", "-f", clientKey],
    ]);
    await Deno.mkdir(`${dir}/.ssh`, { mode: 0o700 });
    await Deno.copyFile(`${clientKey}.pub`, `${dir}/.ssh/authorized_keys`);
    // The user's home is the temp dir inside the namespace; its account is not locked there.
    await Deno.mkdir(etc, { recursive: true });
    const passwd = (await Deno.readTextFile("/etc/passwd")).split("\n").map((line) => {
      const f = line.split(":");
      if (f[0] !== user) return line;
      f[5] = dir;
      return f.join(":");
    });
    await Deno.writeTextFile(`${etc}/passwd`, passwd.join("\n"));
    await Deno.writeTextFile(`${etc}/shadow`, `${user}:*:1:0:99999:7:::\n`, { mode: 0o600 });

    const knownHosts = `${dir}/known_hosts`;
    for (let attempt = 1;; attempt++) {
      const port = randomPort();
      proc = new LiveProc(
        netns.command(DROPBEAR, [
          ...["-F", "-E", "-s", "-r", hostKey, "-p", `${netns.nsAddr}:${port}`],
          ...["-P", `${dir}/dropbear.pid`],
          ...(options.window ? ["-W", `${options.window}`] : []),
        ], { stdin: "null", stdout: "piped", stderr: "piped" }),
      );
      const deadline = Date.now() + START_TIMEOUT_MS;
      let up = false;
      while (!up && proc.running && Date.now() < deadline) {
        try {
          (await Deno.connect({ hostname: netns.nsAddr, port })).close();
          up = true;
        } catch {
          await sleep(30);
        }
      }
      if (up) {
        await Deno.writeTextFile(
          knownHosts,
          `[${netns.nsAddr}]:${port} ${hostPub[0]} ${hostPub[1]}\n`,
        );
        const p = proc;
        return {
          host: netns.nsAddr,
          port,
          user,
          dir,
          clientKey,
          knownHosts,
          netns,
          log: () => p.output,
          close,
          [Symbol.asyncDispose]: close,
        };
      }
      await proc.stop("SIGKILL");
      if (!/Address already in use/.test(proc.output) || attempt >= 5) {
        throw new Error(`dropbear on ${netns.nsAddr}:${port} did not start:\n${proc.output}`);
      }
    }
  } catch (err) {
    await close();
    throw err;
  }
}
