/**
 * A proxy tunnel (-L socks/) in front of a real OpenSSH sshd on a namespace
 * host (the shared rig, tests/_harness/real_peers.ts), for
 * tests/proxy_test.ts, plus the clients that drive it: curl and the npm
 * `socks` client.
 *
 * The namespace gets its own /etc/hosts: ORIGIN_NAME resolves only there,
 * so a request by that name works only if the name reaches sshd unresolved.
 * It has no DNS, so other names fail at once instead of timing out.
 */
import { Buffer } from "node:buffer";
import type { Socket } from "node:net";
import { SocksClient, type SocksClientOptions } from "socks";
import { ActivityTracker } from "../../lib/tunnel/activity.ts";
import { type ProxyOptions, ProxyTunnel } from "../../lib/tunnel/proxy/tunnel.ts";
import { type Origin, startOrigin } from "./origin.ts";
import { type RealPeers, startRealPeers } from "./real_peers.ts";

export { curl, until } from "./real_peers.ts";

export const ORIGIN_NAME = "origin.warren.test";

export type Rig = RealPeers & {
  origin: Origin;
  tunnel: ProxyTunnel;
  activity: ActivityTracker;
  /** The proxy's port on 127.0.0.1. */
  port: number;
};

/** The peers with ORIGIN_NAME in the namespace's hosts file, the origins, and a proxy tunnel. */
export function startRig(options: ProxyOptions & { sshdConfig?: string[] } = {}): Promise<Rig> {
  const hosts = `127.0.0.1 localhost ${ORIGIN_NAME}\n::1 localhost ip6-localhost\n`;
  return startRealPeers({ hosts, sshdConfig: options.sshdConfig }, async (peers) => {
    const origin = await startOrigin({ netns: peers.netns });
    peers.defer(() => origin.close());
    const activity = new ActivityTracker();
    const tunnel = new ProxyTunnel(
      { protocol: "socks", listenAddress: "127.0.0.1", listenPort: 0 },
      (a, b, c, d) => peers.ssh.openDirect(a, b, c, d),
      activity,
      options,
    );
    await tunnel.start();
    peers.defer(() => tunnel.close());
    return { origin, tunnel, activity, port: tunnel.addresses[0].port };
  });
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
