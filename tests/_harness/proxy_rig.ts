/**
 * A proxy tunnel (-L socks/) in front of a real OpenSSH sshd on a namespace
 * host, for tests/proxy_test.ts, plus the clients that drive it: curl and
 * the npm `socks` client.
 *
 * The namespace gets its own /etc/hosts (ip netns exec bind-mounts
 * /etc/netns/NAME/*): ORIGIN_NAME resolves only there, so a request by that
 * name works only if the name reaches sshd unresolved. Its resolv.conf points
 * at a closed port, so other names fail at once instead of timing out.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { Socket } from "node:net";
import { SocksClient, type SocksClientOptions } from "socks";
import { ActivityTracker } from "../../lib/client/run.ts";
import { connectSsh, type SshConnection } from "../../lib/ssh/connection.ts";
import { type ProxyOptions, ProxyTunnel } from "../../lib/tunnel/proxy.ts";
import { createNetnsHost, type NetnsHost } from "./netns.ts";
import { type Origin, startOrigin } from "./origin.ts";
import { type Sshd, startSshd } from "./sshd.ts";

export const ORIGIN_NAME = "origin.warren.test";

export interface Rig extends AsyncDisposable {
  sshd: Sshd;
  origin: Origin;
  ssh: SshConnection;
  tunnel: ProxyTunnel;
  activity: ActivityTracker;
  /** The proxy's port on 127.0.0.1. */
  port: number;
}

/** A namespace with ORIGIN_NAME in its hosts file, the origins, sshd, and a proxy tunnel to it. */
export async function startRig(
  options: ProxyOptions & { sshdConfig?: string[] } = {},
): Promise<Rig> {
  const netns = await createNetnsHost();
  const cleanups: (() => Promise<void>)[] = [() => removeNetnsFiles(netns), () => netns.close()];
  const cleanup = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  };
  try {
    await writeNetnsFiles(netns);
    const origin = await startOrigin({ netns });
    cleanups.push(() => origin.close());
    const sshd = await startSshd({ netns, extraConfig: options.sshdConfig });
    cleanups.push(() => sshd.close());
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
    const activity = new ActivityTracker();
    const tunnel = new ProxyTunnel(
      { protocol: "socks", listenAddress: "127.0.0.1", listenPort: 0 },
      (a, b, c, d) => ssh.openDirect(a, b, c, d),
      activity,
      options,
    );
    await tunnel.start();
    cleanups.push(() => tunnel.close());
    const port = tunnel.addresses[0].port;
    return { sshd, origin, ssh, tunnel, activity, port, [Symbol.asyncDispose]: cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

async function writeNetnsFiles(netns: NetnsHost): Promise<void> {
  const dir = `/etc/netns/${netns.name}`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/hosts`,
    `127.0.0.1 localhost ${ORIGIN_NAME}\n::1 localhost ip6-localhost\n`,
  );
  // No DNS inside: an unknown name fails at once instead of timing out.
  await Deno.writeTextFile(`${dir}/resolv.conf`, "nameserver 127.0.0.1\noptions attempts:1\n");
}

async function removeNetnsFiles(netns: NetnsHost): Promise<void> {
  await Deno.remove(`/etc/netns/${netns.name}`, { recursive: true }).catch(() => {});
}

export type Result = { code: number; out: string; err: string };

export async function curl(...args: string[]): Promise<Result> {
  const r = await new Deno.Command("curl", {
    args: ["-sS", "--max-time", "30", ...args],
    env: { http_proxy: "", https_proxy: "", all_proxy: "", no_proxy: "" },
    stdin: "null",
  }).output();
  const d = new TextDecoder();
  return { code: r.code, out: d.decode(r.stdout), err: d.decode(r.stderr) };
}

/** A SOCKS connection by the npm client; `proxy` overrides fields of the default. */
export function socks(
  rig: Rig,
  host: string,
  port: number,
  proxy: Partial<SocksClientOptions["proxy"]> = {},
  command: SocksClientOptions["command"] = "connect",
): Promise<Socket> {
  const options: SocksClientOptions = {
    proxy: { host: "127.0.0.1", port: rig.port, type: 5, ...proxy },
    command,
    destination: { host, port },
    timeout: 15_000,
  };
  return clearingStrayTimer(() =>
    new Promise<Socket>((resolve, reject) => {
      // createConnection() takes CONNECT only; BIND needs the event API.
      const client = new SocksClient(options);
      client.once("error", reject);
      client.once("established", (info) => resolve(info.socket as Socket));
      client.once("bound", (info) => {
        info.socket.destroy();
        reject(new Error("bound"));
      });
      client.connect();
    })
  );
}

/**
 * The socks client arms a handshake timer it never clears (it only unrefs
 * it); catch the timer while the client starts and clear it once the
 * handshake settles, so the op sanitizer sees no leak.
 */
function clearingStrayTimer<T>(start: () => Promise<T>): Promise<T> {
  const timers: ReturnType<typeof setTimeout>[] = [];
  const original = globalThis.setTimeout;
  globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
    const id = original(...args);
    timers.push(id);
    return id;
  }) as typeof setTimeout;
  let started: Promise<T>;
  try {
    started = start();
  } finally {
    globalThis.setTimeout = original;
  }
  return started.finally(() => timers.forEach((id) => clearTimeout(id)));
}

/** Resolve once `cond()` holds (polling), or fail after `ms`. */
export async function until(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Write `data`, end, and collect everything until the peer ends. */
export function exchange(socket: Socket, data: Uint8Array | string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.once("error", reject);
    socket.once("end", () => {
      socket.destroy();
      resolve(Buffer.concat(chunks));
    });
    socket.end(data);
  });
}
