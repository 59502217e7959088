/**
 * Real SSH clients as peers of `warren serve` (tests/_harness/serve.ts), for
 * the half-close and peer matrices: OpenSSH's ssh, PuTTY's plink, dropbear's
 * dbclient and asyncssh each run as a forwarding client (`-N -L ... -R ...`),
 * and paramiko runs one exchange directly on its channel
 * (tests/_harness/peers/paramiko_exchange.py).
 *
 * Every client gets the key serve accepts, converted to its own format
 * (PuTTY's .ppk, dropbear's), and checks serve's host key strictly: plink by
 * fingerprint, dbclient from a known_hosts in its own HOME, the others from
 * the known_hosts file. A client that is not installed makes its test skip
 * (`missing()`).
 *
 * `startServeTunnels()` puts the exchange peers (tests/_harness/halfclose.ts)
 * around one forwarding client: for -L the far side runs in serve's namespace
 * and the near side here; for -R the far side runs here and the near side in
 * the namespace, dialing the port serve listens on. The client's tunnels are
 * up when its forward of the far side's `probe` port answers and serve has
 * logged each remote forward.
 */
import { freePort } from "./free_port.ts";
import {
  assertExchange,
  type ExchangeReport,
  farListener,
  nearFirst,
  type Order,
  ORDERS,
  pickPort,
  runNear,
  smallBuffers,
  startExchangeOrigin,
  waitForProbe,
} from "./halfclose.ts";
import { LiveProc, runProc } from "./live_proc.ts";
import { run } from "./procs.ts";
import type { Served } from "./serve.ts";
import type { NetnsHost } from "./netns.ts";

export const PYTHON = "/usr/bin/python3";
const PEERS = new URL("./peers/", import.meta.url).pathname;

/** A forward: listen on 127.0.0.1:listen, connect to 127.0.0.1:dst. */
export interface Forward {
  listen: number;
  dst: number;
}

export interface ForwardingClient {
  name: string;
  /** Why it cannot run here, or undefined. */
  missing(): string | undefined;
  /** Whether it can ask for remote forwards (-R). */
  remote: boolean;
  /** Start it against `served` with these forwards (see ClientOptions). */
  start(
    served: Served,
    forwards: { local: Forward[]; remote: Forward[] },
    options?: ClientOptions,
  ): Promise<LiveProc>;
}

export interface ClientOptions {
  /** Its receive window in bytes, where it can be set. */
  window?: number;
  /** Its compression algorithms, where they can be set. */
  compression?: string;
  /** Run it in this namespace (default: this host). */
  netns?: NetnsHost;
}

/** `cmd args...` with piped output, no agent, `env` added; in `netns` if given. */
function spawn(
  netns: NetnsHost | undefined,
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): LiveProc {
  if (!netns) return LiveProc.spawn(cmd, args, env);
  return new LiveProc(netns.command(cmd, args, {
    env: { SSH_AUTH_SOCK: "", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }));
}

function findTool(...paths: string[]): string | undefined {
  return paths.find((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  });
}

/** Why `tools` cannot be used, naming the first one missing and its package. */
export function missingTools(tools: Record<string, string>): string | undefined {
  for (const [path, pkg] of Object.entries(tools)) {
    if (!findTool(path)) return `${path} not found (Debian package ${pkg})`;
  }
  return undefined;
}

/** Whether Debian's python3 can import `module`. */
export function missingPython(module: string, pkg: string): string | undefined {
  if (!findTool(PYTHON)) return `${PYTHON} not found`;
  const out = new Deno.Command(PYTHON, {
    args: ["-W", "ignore", "-c", `import ${module}`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).outputSync();
  return out.success ? undefined : `python3 module ${module} not found (Debian package ${pkg})`;
}

/** A HOME of the client's own inside serve's temp dir. */
async function home(served: Served, name: string): Promise<string> {
  const dir = `${served.dir}/home-${name}`;
  await Deno.mkdir(`${dir}/.ssh`, { recursive: true, mode: 0o700 });
  return dir;
}

const fwd = (f: Forward) => `127.0.0.1:${f.listen}:127.0.0.1:${f.dst}`;

export const OPENSSH: ForwardingClient = {
  name: "OpenSSH ssh",
  remote: true,
  missing: () => missingTools({ "/usr/bin/ssh": "openssh-client" }),
  start(served, forwards, options = {}) {
    return Promise.resolve(
      spawn(options.netns, "/usr/bin/ssh", [
        "-N",
        ...["-o", "ExitOnForwardFailure=yes"],
        ...forwards.local.flatMap((f) => ["-L", fwd(f)]),
        ...forwards.remote.flatMap((f) => ["-R", fwd(f)]),
        ...["-F", "/dev/null", "-i", served.clientKey, "-o", "IdentitiesOnly=yes"],
        ...["-o", `UserKnownHostsFile=${served.knownHosts}`, "-o", "StrictHostKeyChecking=yes"],
        ...["-o", "BatchMode=yes", "-p", `${served.port}`, `tester@${served.host}`],
      ]),
    );
  },
};

export const PLINK: ForwardingClient = {
  name: "PuTTY plink",
  remote: true,
  missing: () =>
    missingTools({ "/usr/bin/plink": "putty-tools", "/usr/bin/puttygen": "putty-tools" }),
  async start(served, forwards, options = {}) {
    const ppk = `${served.clientKey}.ppk`;
    await run("/usr/bin/puttygen", [served.clientKey, "-O", "private", "-o", ppk]);
    return spawn(options.netns, "/usr/bin/plink", [
      ...["-ssh", "-batch", "-N", "-v"],
      ...forwards.local.flatMap((f) => ["-L", fwd(f)]),
      ...forwards.remote.flatMap((f) => ["-R", fwd(f)]),
      ...["-i", ppk, "-hostkey", served.fingerprint, "-P", `${served.port}`],
      `tester@${served.host}`,
    ], { HOME: await home(served, "plink") });
  },
};

export const DBCLIENT: ForwardingClient = {
  name: "dropbear dbclient",
  remote: true,
  missing: () =>
    missingTools({
      "/usr/bin/dbclient": "dropbear-bin",
      "/usr/bin/dropbearconvert": "dropbear-bin",
    }),
  async start(served, forwards, options = {}) {
    const key = `${served.clientKey}.dropbear`;
    await run("/usr/bin/dropbearconvert", ["openssh", "dropbear", served.clientKey, key]);
    const dir = await home(served, "dbclient");
    // dbclient looks hosts up by address alone, without [ ]:port.
    const line = (await Deno.readTextFile(served.knownHosts)).replace(/^\[([^\]]+)\]:\d+ /, "$1 ");
    await Deno.writeTextFile(`${dir}/.ssh/known_hosts`, line);
    return spawn(options.netns, "/usr/bin/dbclient", [
      "-N",
      "-T",
      ...forwards.local.flatMap((f) => ["-L", fwd(f)]),
      ...forwards.remote.flatMap((f) => ["-R", fwd(f)]),
      ...(options.window ? ["-W", `${options.window}`] : []),
      ...["-i", key, "-p", `${served.port}`, `tester@${served.host}`],
    ], { HOME: dir });
  },
};

export const ASYNCSSH: ForwardingClient = {
  name: "asyncssh",
  remote: true,
  missing: () => missingPython("asyncssh", "python3-asyncssh"),
  start(served, forwards, options = {}) {
    return Promise.resolve(
      spawn(options.netns, PYTHON, [
        ...["-W", "ignore", `${PEERS}asyncssh_forward.py`],
        ...["--host", served.host, "--port", `${served.port}`, "--user", "tester"],
        ...["--key", served.clientKey, "--known-hosts", served.knownHosts],
        ...(options.window ? ["--window", `${options.window}`] : []),
        ...(options.compression ? ["--compression", options.compression] : []),
        ...forwards.local.flatMap((f) => ["-L", fwd(f)]),
        ...forwards.remote.flatMap((f) => ["-R", fwd(f)]),
      ]),
    );
  },
};

export type ServeTunnelKind = "-L" | "-R";

export interface ServeTunnels extends AsyncDisposable {
  client: LiveProc;
  exchange(kind: ServeTunnelKind, order: Order): Promise<void>;
  close(): Promise<void>;
}

const FAR_REPORT_MS = 20_000;

/**
 * Resolves once the client's forward on 127.0.0.1:port (in `netns` if given)
 * leads to the far side's `probe` port; fails at once when the client exits
 * or serve logs a failed authentication, else after 20 s.
 */
export async function waitForTunnels(
  port: number,
  client: LiveProc,
  served: Served,
  netns?: NetnsHost,
): Promise<void> {
  const stop = () => {
    if (!client.running) return "it exited";
    return /authentication failed: .*/.exec(served.log())?.[0];
  };
  await waitForProbe(port, { netns, stop }).catch((err) => {
    throw new Error(
      `the client's tunnels did not come up (${err.message});\n` +
        `client output:\n${client.output}\nserve log:\n${served.log()}`,
    );
  });
}

/** Start `client` against `served` with -L (and -R) tunnels for both orders. */
export async function startServeTunnels(
  served: Served,
  client: ForwardingClient,
  options: { bytes: number; window?: number; compression?: string; inServeNetns?: boolean },
): Promise<ServeTunnels> {
  const bytes = options.bytes;
  // The client's side: this host, or serve's own namespace.
  const netns = options.inServeNetns ? served.netns : undefined;
  const cleanups: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  };
  try {
    await smallBuffers(served.netns);
    const there = await startExchangeOrigin({ netns: served.netns, bytes });
    cleanups.push(() => there.close());
    const here = client.remote ? await startExchangeOrigin({ netns, bytes }) : undefined;
    if (here) cleanups.push(() => here.close());
    const taken = new Set([...Object.values(there.ports), ...Object.values(here?.ports ?? {})]);
    const port = () => netns ? pickPort(taken) : freePort();
    const local = new Map<Order, Forward>();
    const remote = new Map<Order, Forward>();
    const probeFwd = { listen: port(), dst: there.ports.probe };
    for (const order of ORDERS) {
      local.set(order, { listen: port(), dst: there.ports[farListener(order)] });
      if (here) remote.set(order, { listen: pickPort(taken), dst: here.ports[farListener(order)] });
    }
    const proc = await client.start(
      served,
      { local: [...local.values(), probeFwd], remote: [...remote.values()] },
      { ...options, netns },
    );
    cleanups.push(() => proc.stop("SIGKILL"));
    await waitForTunnels(probeFwd.listen, proc, served, netns);
    for (const f of remote.values()) {
      await served.cli.waitFor(
        new RegExp(`remote forward listening on 127\\.0\\.0\\.1:${f.listen} `),
      );
    }
    const exchange = async (kind: ServeTunnelKind, order: Order) => {
      if (!proc.running) {
        throw new Error(`${client.name} has exited; its output:\n${proc.output}`);
      }
      const farSide = kind === "-L" ? there : here;
      if (!farSide) throw new Error(`${client.name} has no ${kind} tunnels`);
      const near = kind === "-L"
        ? await runNear({ netns, port: local.get(order)!.listen, order, bytes })
        : await runNear({ netns: served.netns, port: remote.get(order)!.listen, order, bytes });
      const far = await farSide.next(farListener(order), FAR_REPORT_MS).catch((err) => {
        throw new Error(
          `${kind} ${order}: ${err.message}; the near side saw ${JSON.stringify(near)}`,
        );
      });
      assertExchange(`${client.name} ${kind} ${order}`, near, far, bytes);
    };
    return { client: proc, exchange, close, [Symbol.asyncDispose]: close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Why paramiko cannot run here, or undefined. */
export function paramikoMissing(): string | undefined {
  return missingPython("paramiko", "python3-paramiko");
}

/**
 * paramiko against `served`: one exchange on a direct-tcpip channel (-L, the
 * far side in serve's namespace) or a forwarded-tcpip channel (-R, the near
 * side in the namespace dialing serve's listener).
 */
export async function paramikoExchange(
  served: Served,
  kind: ServeTunnelKind,
  order: Order,
  bytes: number,
  options: { window?: number; inServeNetns?: boolean } = {},
): Promise<void> {
  const netns = options.inServeNetns ? served.netns : undefined;
  await smallBuffers(served.netns);
  const base = [
    ...["-W", "ignore", `${PEERS}paramiko_exchange.py`],
    ...["--host", served.host, "--port", `${served.port}`, "--user", "tester"],
    ...["--key", served.clientKey, "--known-hosts", served.knownHosts, "--bytes", `${bytes}`],
    ...(options.window ? ["--window", `${options.window}`] : []),
  ];
  const parse = (what: string, text: string, stderr: string): ExchangeReport => {
    const line = text.trim().split("\n").at(-1) ?? "";
    try {
      return JSON.parse(line);
    } catch {
      throw new Error(`paramiko (${what}) printed no report: ${stderr}${text}`);
    }
  };
  if (kind === "-L") {
    await using far = await startExchangeOrigin({ netns: served.netns, bytes });
    const listener = farListener(order);
    const r = await runProc(PYTHON, [
      ...base,
      ...["--first", nearFirst(order), "--direct", `127.0.0.1:${far.ports[listener]}`],
    ], { timeoutMs: 120_000, netns });
    const near = parse("near side", r.stdout, r.stderr);
    assertExchange(`paramiko -L ${order}`, near, await far.next(listener, FAR_REPORT_MS), bytes);
    return;
  }
  const port = pickPort(new Set());
  const farFirst = order === "far-first" ? "send" : "receive";
  await using proc = spawn(netns, PYTHON, [
    ...base,
    ...["--first", farFirst, "--remote", `${port}`],
  ]);
  await proc.waitFor(/^ready$/m);
  const near = await runNear({ netns: served.netns, port, order, bytes });
  await proc.exit(FAR_REPORT_MS);
  const far = parse("far side", proc.stdout.replace(/^ready\n/m, ""), proc.stderr);
  assertExchange(`paramiko -R ${order}`, near, far, bytes);
}
