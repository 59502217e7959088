/**
 * The warren client side of the half-close matrix: one `warren` process (run
 * as a user runs it) with a tunnel of each kind to one SSH server (OpenSSH
 * sshd, dropbear, warren serve or the ssh2 test server), and the exchange
 * peers around it (tests/_harness/halfclose.ts). Two places take part: the
 * server's side (its namespace, where its loopback is) and the client's side
 * (this host, or a namespace given as `clientNetns`, where warren runs):
 *
 * - `-L`, `-L socks/` and `-L ftp/`: the far side runs on the server's side,
 *   the near side on the client's, dialing warren's listener (through
 *   SOCKS5, or as an FTP client).
 * - `-R` and `-R socks/`: the far side runs on the client's side (warren
 *   dials it), the near side on the server's, dialing the port the server
 *   bound (through SOCKS5 to warren's side for `-R socks/`).
 *
 * Namespaces taking part get small TCP buffers (`smallBuffers()`), so that
 * the slow reader of each exchange backs its stream up into the tunnel.
 * `exchange(kind, order)` runs one exchange and fails when either direction
 * lost, added or changed a byte.
 */
import { LiveCli } from "./cli.ts";
import { freePort } from "./free_port.ts";
import {
  assertExchange,
  type ExchangeOrigin,
  farListener,
  type Order,
  ORDERS,
  pickPort,
  runNear,
  smallBuffers,
  startExchangeOrigin,
} from "./halfclose.ts";
import type { NetnsHost } from "./netns.ts";

/** The far side reports within this of the near side's end, or it hangs. */
const FAR_REPORT_MS = 20_000;

export type TunnelKind = "-L" | "-R" | "-L socks/" | "-L ftp/" | "-R socks/";
export const TUNNEL_KINDS: readonly TunnelKind[] = [
  "-L",
  "-R",
  "-L socks/",
  "-L ftp/",
  "-R socks/",
];

/** An SSH server warren's client can reach, and where its own loopback is. */
export interface ServerUnderTest {
  host: string;
  port: number;
  user: string;
  clientKey: string;
  knownHosts: string;
  /** The namespace the server runs in; undefined = this host. */
  netns?: NetnsHost;
}

export interface ClientTunnels extends AsyncDisposable {
  cli: LiveCli;
  bytes: number;
  exchange(kind: TunnelKind, order: Order): Promise<void>;
  close(): Promise<void>;
}

/** warren's arguments for `server`: its key, strict host keys, no agent. */
export function clientArgs(server: ServerUnderTest): string[] {
  return [
    ...["-i", server.clientKey, "-o", `UserKnownHostsFile=${server.knownHosts}`],
    ...["--hostkey-policy=strict", "-B", `${server.user}@${server.host}#${server.port}`],
  ];
}

export interface ClientTunnelOptions {
  /** Bytes each way per exchange. */
  bytes: number;
  kinds?: readonly TunnelKind[];
  /** Environment for warren (e.g. WARREN_CHANNEL_WINDOW). */
  env?: Record<string, string>;
  /** More options for warren (e.g. -o Ciphers=...). */
  args?: readonly string[];
  /** Run warren and the client's side here (default: this host). */
  clientNetns?: NetnsHost;
}

/** Start the origins and one warren with every tunnel in `kinds`. */
export async function startClientTunnels(
  server: ServerUnderTest,
  options: ClientTunnelOptions,
): Promise<ClientTunnels> {
  const kinds = options.kinds ?? TUNNEL_KINDS;
  const { bytes, clientNetns } = options;
  const cleanups: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  };
  try {
    if (server.netns) await smallBuffers(server.netns);
    if (clientNetns && clientNetns !== server.netns) await smallBuffers(clientNetns);
    const there = await startExchangeOrigin({ netns: server.netns, bytes });
    cleanups.push(() => there.close());
    let here: ExchangeOrigin | undefined;
    if (kinds.includes("-R") || kinds.includes("-R socks/")) {
      here = await startExchangeOrigin({ netns: clientNetns, bytes });
      cleanups.push(() => here!.close());
    }
    const taken = new Set([...Object.values(there.ports), ...Object.values(here?.ports ?? {})]);
    const port = () => clientNetns ? pickPort(taken) : freePort();
    // The server's listening ports are chosen here too, clear of the
    // origin's: asked for port 0, sshd may take a port for ::1 that the
    // origin holds on 127.0.0.1, and the near side, dialing 127.0.0.1, then
    // reaches the origin instead (seen once in the Unix socket matrix).
    const serverPort = () => server.netns ? pickPort(taken) : freePort();
    const remotePorts = new Map<Order, number>();
    const localPorts = new Map<string, number>();
    const args: string[] = [];
    for (const order of ORDERS) {
      const key = (k: TunnelKind) => `${k} ${order}`;
      if (kinds.includes("-L")) {
        const p = port();
        localPorts.set(key("-L"), p);
        args.push("-L", `127.0.0.1:${p}:127.0.0.1:${there.ports[farListener(order)]}`);
      }
      if (kinds.includes("-L ftp/")) {
        const p = port();
        localPorts.set(key("-L ftp/"), p);
        args.push("-L", `ftp/127.0.0.1:${p}:127.0.0.1:${there.ports[farListener(order, true)]}`);
      }
      if (kinds.includes("-R")) {
        remotePorts.set(order, serverPort());
        args.push("-R", `${remotePorts.get(order)}:127.0.0.1:${here!.ports[farListener(order)]}`);
      }
    }
    let socksPort = 0;
    if (kinds.includes("-L socks/")) {
      socksPort = port();
      args.push("-L", `socks/127.0.0.1:${socksPort}`);
    }
    const remoteSocksPort = kinds.includes("-R socks/") ? serverPort() : 0;
    if (remoteSocksPort) args.push("-R", `socks/${remoteSocksPort}`);
    const cli = new LiveCli([...args, ...(options.args ?? []), ...clientArgs(server)], {
      env: options.env,
      netns: clientNetns,
    });
    cleanups.push(() => cli.stop("SIGKILL"));
    for (const order of ORDERS) {
      if (kinds.includes("-L")) {
        const p = localPorts.get(`-L ${order}`);
        await cli.waitFor(new RegExp(`Local tunnel -L 127\\.0\\.0\\.1:${p}`));
      }
      if (kinds.includes("-L ftp/")) {
        const p = localPorts.get(`-L ftp/ ${order}`);
        await cli.waitFor(new RegExp(`FTP tunnel -L ftp/127\\.0\\.0\\.1:${p}`));
      }
      if (kinds.includes("-R")) {
        const far = here!.ports[farListener(order)];
        await cli.waitFor(
          new RegExp(`:${remotePorts.get(order)} \\(on the server\\) -> 127\\.0\\.0\\.1:${far}`),
        );
      }
    }
    if (socksPort) {
      await cli.waitFor(new RegExp(`Proxy tunnel -L socks/127\\.0\\.0\\.1:${socksPort}`));
    }
    if (remoteSocksPort) {
      await cli.waitFor(
        new RegExp(`Remote proxy tunnel -R socks/\\S+:${remoteSocksPort} \\(on the server`),
      );
    }

    const exchange = async (kind: TunnelKind, order: Order) => {
      if (!kinds.includes(kind)) throw new Error(`no ${kind} tunnel in this rig`);
      if (!cli.running) throw new Error(`warren has exited:\n${cli.output}`);
      const ftp = kind === "-L ftp/";
      const farSide = kind === "-R" || kind === "-R socks/" ? here! : there;
      const listener = farListener(order, ftp);
      const near = kind === "-R"
        ? await runNear({ netns: server.netns, port: remotePorts.get(order)!, order, bytes })
        : kind === "-R socks/"
        ? await runNear({
          netns: server.netns,
          port: remoteSocksPort,
          socks: `127.0.0.1:${here!.ports[listener]}`,
          order,
          bytes,
        })
        : await runNear({
          netns: clientNetns,
          port: kind === "-L socks/" ? socksPort : localPorts.get(`${kind} ${order}`)!,
          socks: kind === "-L socks/" ? `127.0.0.1:${there.ports[listener]}` : undefined,
          ftp,
          order,
          bytes,
        });
      const far = await farSide.next(listener, FAR_REPORT_MS).catch((err) => {
        throw new Error(
          `${kind} ${order}: ${err.message}; the near side saw ${JSON.stringify(near)}`,
        );
      });
      assertExchange(`${kind} ${order}`, near, far, bytes);
    };
    return { cli, bytes, exchange, close, [Symbol.asyncDispose]: close };
  } catch (err) {
    await close();
    throw err;
  }
}
