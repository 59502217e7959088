/**
 * Throwaway network namespaces for real-peer tests (Linux, root only).
 *
 * `createNetnsHost()` makes a namespace `wrn-<pid>-<n>` joined to the host by
 * a veth pair on a random link-local /30 (169.254.a.b: host side .1, namespace
 * side .2), with `lo` up inside. Servers started inside with `command()` and
 * bound to the namespace's loopback are unreachable from the host: only traffic
 * that really crosses SSH (sshd runs inside too) reaches them.
 *
 * `createNetnsHost({ isolated: true })` makes one without the host link (its
 * `hostAddr` and `nsAddr` are ""), and `linkNetns(a, b)` joins two namespaces
 * by a veth pair of their own: a chain host - A - B - C in which each
 * namespace reaches only its neighbours (no routing, no forwarding).
 *
 * `close()` kills whatever still runs inside, deletes the veth and the
 * namespace; it is idempotent. Namespaces left by dead test processes (same
 * name prefix, pid gone) are removed the first time a host is created.
 */

import { sleep } from "./free_port.ts";

export interface NetnsHost extends AsyncDisposable {
  /** Namespace name, e.g. "wrn-1234-0". */
  name: string;
  /** Our side of the veth, e.g. "169.254.37.1". */
  hostAddr: string;
  /** The namespace side, e.g. "169.254.37.2". */
  nsAddr: string;
  /** Spawn a command inside the namespace (ip netns exec). */
  command(
    cmd: string,
    args: string[],
    options?: Deno.CommandOptions,
  ): Deno.Command;
  /**
   * Take the namespace's end of the veth down (a cut cable: packets vanish,
   * nobody sends a FIN or RST) or up again.
   */
  setLink(up: boolean): Promise<void>;
  close(): Promise<void>;
}

type Support = { ok: true } | { ok: false; reason: string };

const IP_CANDIDATES = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"];
const NAME_RE = /^wrn-(?:probe-)?(\d+)-/;
const IP_TIMEOUT_MS = 15_000;

let support: Support | undefined;
let ipPath: string | undefined;
let counter = 0;
let staleCleaned = false;

/** Whether this process can create network namespaces (cached). */
export function netnsSupport(): Support {
  support ??= probe();
  return support;
}

function probe(): Support {
  try {
    if (Deno.build.os !== "linux") {
      return { ok: false, reason: "network namespaces need Linux" };
    }
    if (Deno.uid() !== 0) return { ok: false, reason: "not root" };
    ipPath = IP_CANDIDATES.find(isFile);
    if (!ipPath) return { ok: false, reason: "`ip` (iproute2) not found" };
    const name = `wrn-probe-${Deno.pid}-${counter++}`;
    const add = ipSync(["netns", "add", name]);
    if (!add.ok) {
      return { ok: false, reason: `cannot create a netns: ${add.error}` };
    }
    const exec = ipSync(["netns", "exec", name, ipPath, "link", "show", "lo"]);
    ipSync(["netns", "del", name]);
    if (!exec.ok) {
      return { ok: false, reason: `cannot enter a netns: ${exec.error}` };
    }
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : `${err}` };
  }
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function ipSync(args: string[]): { ok: boolean; error: string } {
  const out = new Deno.Command(ipPath!, {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).outputSync();
  return {
    ok: out.success,
    error: new TextDecoder().decode(out.stderr).trim(),
  };
}

/** Run `ip ...`, bounded; throws with stderr on failure unless `allowFail`. */
async function ip(args: string[], allowFail = false): Promise<string> {
  const child = new Deno.Command(ipPath!, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), IP_TIMEOUT_MS);
  try {
    const out = await child.output();
    if (!out.success && !allowFail) {
      const err = new TextDecoder().decode(out.stderr).trim();
      throw new Error(`ip ${args.join(" ")} failed: ${err || out.code}`);
    }
    return new TextDecoder().decode(out.stdout);
  } finally {
    clearTimeout(timer);
  }
}

/** Create a namespace joined to the host by a veth pair on a random /30 (unless isolated). */
export async function createNetnsHost(options: { isolated?: boolean } = {}): Promise<NetnsHost> {
  const s = netnsSupport();
  if (!s.ok) throw new Error(`Network namespaces unavailable: ${s.reason}`);
  if (!staleCleaned) {
    staleCleaned = true;
    await removeStale();
  }
  const n = counter++;
  const tag = `${Deno.pid.toString(36)}x${n.toString(36)}`;
  const host = new Host(`wrn-${Deno.pid}-${n}`, `wrn${tag}h`, `wrn${tag}n`);
  if (options.isolated) {
    try {
      await ip(["netns", "add", host.name]);
      host.created = true;
      await ip(["-n", host.name, "link", "set", "lo", "up"]);
    } catch (err) {
      await host.close();
      throw err;
    }
    return host;
  }
  const [hostAddr, nsAddr] = await pickSubnet();
  host.hostAddr = hostAddr;
  host.nsAddr = nsAddr;
  try {
    await ip(["netns", "add", host.name]);
    host.created = true;
    await ip([
      "link",
      "add",
      host.hostIf,
      "type",
      "veth",
      "peer",
      "name",
      host.nsIf,
      "netns",
      host.name,
    ]);
    await ip(["addr", "add", `${hostAddr}/30`, "dev", host.hostIf]);
    await ip(["link", "set", host.hostIf, "up"]);
    await ip([
      "-n",
      host.name,
      "addr",
      "add",
      `${nsAddr}/30`,
      "dev",
      host.nsIf,
    ]);
    await ip(["-n", host.name, "link", "set", host.nsIf, "up"]);
    await ip(["-n", host.name, "link", "set", "lo", "up"]);
  } catch (err) {
    await host.close();
    throw err;
  }
  return host;
}

/** Addresses of a link between two namespaces: `a`'s end and `b`'s end. */
export interface NetnsLink {
  aAddr: string;
  bAddr: string;
}

/**
 * Join namespaces `a` and `b` by a veth pair on a random /30 (a's end .1,
 * b's end .2); deleting either namespace removes the pair.
 */
export async function linkNetns(a: NetnsHost, b: NetnsHost): Promise<NetnsLink> {
  const n = counter++;
  const tag = `${Deno.pid.toString(36)}x${n.toString(36)}`;
  const [aIf, bIf] = [`wrn${tag}a`, `wrn${tag}b`];
  const taken = [a.nsAddr, b.nsAddr].filter((x) => x !== "").map(subnetOf);
  let pair = await pickSubnet();
  while (taken.includes(subnetOf(pair[0]))) pair = await pickSubnet();
  const [aAddr, bAddr] = pair;
  await ip([
    "link",
    "add",
    aIf,
    "netns",
    a.name,
    "type",
    "veth",
    "peer",
    "name",
    bIf,
    "netns",
    b.name,
  ]);
  await ip(["-n", a.name, "addr", "add", `${aAddr}/30`, "dev", aIf]);
  await ip(["-n", b.name, "addr", "add", `${bAddr}/30`, "dev", bIf]);
  await ip(["-n", a.name, "link", "set", aIf, "up"]);
  await ip(["-n", b.name, "link", "set", bIf, "up"]);
  return { aAddr, bAddr };
}

function subnetOf(addr: string): string {
  const parts = addr.split(".").map(Number);
  parts[3] &= ~3;
  return parts.join(".");
}

/** A random 169.254.a.b/30 not overlapping any address or route we can see. */
async function pickSubnet(): Promise<[string, string]> {
  const seen = await ip(["-4", "-o", "addr", "show"]) +
    await ip(["-4", "route", "show", "table", "all"], true);
  const used = new Set<string>();
  for (const m of seen.matchAll(/169\.254\.(\d+)\.(\d+)/g)) {
    used.add(`${m[1]}.${Number(m[2]) & ~3}`);
  }
  for (let i = 0; i < 100; i++) {
    // Skip 169.254.0.x and .255.x (reserved) and .169.x (cloud metadata).
    const a = 1 + Math.floor(Math.random() * 253);
    const b = 4 * Math.floor(Math.random() * 64);
    if (a === 169 || used.has(`${a}.${b}`)) continue;
    return [`169.254.${a}.${b + 1}`, `169.254.${a}.${b + 2}`];
  }
  throw new Error("No free 169.254.x.y/30 found for a test namespace");
}

/** Delete namespaces named by this harness whose creating process is gone. */
async function removeStale(): Promise<void> {
  const list = await ip(["netns", "list"], true);
  for (const line of list.split("\n")) {
    const name = line.split(" ")[0];
    const m = NAME_RE.exec(name);
    if (!m || Number(m[1]) === Deno.pid || isFile(`/proc/${m[1]}/stat`)) {
      continue;
    }
    await killInside(name).catch(() => {});
    await ip(["netns", "del", name], true);
  }
}

/** SIGKILL every process in namespace `name`, waiting (bounded) until none. */
async function killInside(name: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (true) {
    const pids = (await ip(["netns", "pids", name], true))
      .split("\n").map((s) => Number(s.trim())).filter((p) => p > 0);
    if (pids.length === 0) return;
    if (Date.now() > deadline) {
      throw new Error(`Processes ${pids.join(", ")} in netns ${name} survive`);
    }
    for (const pid of pids) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* already gone */ }
    }
    await sleep(20);
  }
}

class Host implements NetnsHost {
  hostAddr = "";
  nsAddr = "";
  created = false;
  #closing?: Promise<void>;

  constructor(
    readonly name: string,
    readonly hostIf: string,
    readonly nsIf: string,
  ) {}

  command(
    cmd: string,
    args: string[],
    options: Deno.CommandOptions = {},
  ): Deno.Command {
    if (this.#closing) throw new Error(`netns ${this.name} is closed`);
    return new Deno.Command(ipPath!, {
      ...options,
      args: ["netns", "exec", this.name, cmd, ...args],
    });
  }

  async setLink(up: boolean): Promise<void> {
    await ip(["-n", this.name, "link", "set", this.nsIf, up ? "up" : "down"]);
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (!this.created) return;
    await killInside(this.name);
    // Deleting the host end removes both ends; netns deletion alone is lazy.
    await ip(["link", "del", this.hostIf], true);
    await ip(["netns", "del", this.name]);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
