/**
 * The half-close matrix for Unix domain socket tunnels (see
 * tests/halfclose_test.ts for the exchange and its two orders): OpenSSH's four
 * forms, 16 MiB each way in both EOF orders, compared byte for byte, with the
 * slow reader of each exchange backing its stream up into the tunnel:
 *
 *   -L /here.sock:127.0.0.1:PORT   a socket here, the server connects TCP
 *   -L PORT:/there.sock            TCP here, the server connects a socket
 *   -R /server.sock:127.0.0.1:PORT the server listens on a socket, warren connects TCP
 *   -R PORT:/here.sock             the server listens on TCP, warren connects a socket
 *
 * against OpenSSH's sshd and against `warren serve` (--permit-streamlocal).
 * The server's side runs in its namespace with small TCP buffers; the
 * sockets live in one directory of this filesystem, which the namespace
 * shares. Needs root, iproute2 and OpenSSH; otherwise ignored with one line.
 */
import { LiveCli } from "./_harness/cli.ts";
import { freePort } from "./_harness/free_port.ts";
import {
  assertExchange,
  type ExchangeReport,
  farListener,
  type Listener,
  type Order,
  ORDERS,
  pickPort,
  runNear,
  smallBuffers,
  startExchangeOrigin,
  unixListener,
  unixListenerPath,
} from "./_harness/halfclose.ts";
import { clientArgs, type ServerUnderTest } from "./_harness/halfclose_rig.ts";
import type { NetnsHost } from "./_harness/netns.ts";
import { serveTestsSkipReason, startServe } from "./_harness/serve.ts";
import { skipWhen, unsupportedBy } from "./_harness/skip.ts";
import { sshdSupport, startSshd } from "./_harness/sshd.ts";
import { tempDir } from "./_harness/temp_dir.ts";

const BYTES = 16 * 1024 * 1024;
const FAR_REPORT_MS = 20_000;

type UnixKind = "-L /sock:tcp" | "-L tcp:/sock" | "-R /sock:tcp" | "-R tcp:/sock";
const KINDS: readonly UnixKind[] = ["-L /sock:tcp", "-L tcp:/sock", "-R /sock:tcp", "-R tcp:/sock"];

/** One warren with every form for both orders; one step per form and order. */
async function unixMatrix(
  t: Deno.TestContext,
  server: ServerUnderTest & { netns: NetnsHost },
  dir: string,
): Promise<void> {
  await smallBuffers(server.netns);
  await Deno.mkdir(`${dir}/there`);
  await Deno.mkdir(`${dir}/here`);
  // The far sides: the server's (its namespace) for -L, this host's for -R.
  await using there = await startExchangeOrigin({
    netns: server.netns,
    bytes: BYTES,
    unixDir: `${dir}/there`,
  });
  await using here = await startExchangeOrigin({ bytes: BYTES, unixDir: `${dir}/here` });
  const tcpPort = new Map<Order, number>();
  const remotePort = new Map<Order, number>();
  // The server's port is chosen here, clear of the origin's: with port 0 sshd
  // may take a port for ::1 that the origin holds on 127.0.0.1, and the near
  // side, dialing 127.0.0.1, then reaches the origin instead.
  const taken = new Set(Object.values(there.ports));
  const args: string[] = [];
  for (const order of ORDERS) {
    const port = freePort();
    tcpPort.set(order, port);
    remotePort.set(order, pickPort(taken));
    args.push(
      ...["-L", `${dir}/L-${order}.sock:127.0.0.1:${there.ports[farListener(order)]}`],
      ...["-L", `127.0.0.1:${port}:${unixListenerPath(`${dir}/there`, unixListener(order))}`],
      ...["-R", `${dir}/R-${order}.sock:127.0.0.1:${here.ports[farListener(order)]}`],
      ...["-R", `${remotePort.get(order)}:${unixListenerPath(`${dir}/here`, unixListener(order))}`],
    );
  }
  await using cli = new LiveCli([...args, ...clientArgs(server)]);
  for (const order of ORDERS) {
    const path = unixListenerPath(`${dir}/here`, unixListener(order)).replace(/[.+]/g, "\\$&");
    await cli.waitFor(new RegExp(`:${remotePort.get(order)} \\(on the server\\) -> ${path}`));
    await cli.waitFor(new RegExp(`Remote tunnel -R \\S+R-${order}\\.sock \\(on the server\\)`));
    await cli.waitFor(new RegExp(`Local tunnel -L \\S+L-${order}\\.sock -> `));
    await cli.waitFor(new RegExp(`Local tunnel -L 127\\.0\\.0\\.1:${tcpPort.get(order)} -> `));
  }

  const exchange = async (kind: UnixKind, order: Order) => {
    if (!cli.running) throw new Error(`warren has exited:\n${cli.output}`);
    let near: ExchangeReport;
    let far: { side: typeof here; listener: Listener };
    if (kind === "-L /sock:tcp") {
      near = await runNear({ port: 0, unix: `${dir}/L-${order}.sock`, order, bytes: BYTES });
      far = { side: there, listener: farListener(order) };
    } else if (kind === "-L tcp:/sock") {
      near = await runNear({ port: tcpPort.get(order)!, order, bytes: BYTES });
      far = { side: there, listener: unixListener(order) };
    } else if (kind === "-R /sock:tcp") {
      near = await runNear({
        netns: server.netns,
        port: 0,
        unix: `${dir}/R-${order}.sock`,
        order,
        bytes: BYTES,
      });
      far = { side: here, listener: farListener(order) };
    } else {
      near = await runNear({
        netns: server.netns,
        port: remotePort.get(order)!,
        order,
        bytes: BYTES,
      });
      far = { side: here, listener: unixListener(order) };
    }
    const report = await far.side.next(far.listener, FAR_REPORT_MS).catch((err) => {
      throw new Error(
        `${kind} ${order}: ${err.message}; the near side saw ${JSON.stringify(near)}`,
      );
    });
    assertExchange(`${kind} ${order}`, near, report, BYTES);
  };
  for (const kind of KINDS) {
    for (const order of ORDERS) {
      await t.step(`${kind} ${order}`, () => exchange(kind, order));
    }
  }
}

Deno.test({
  name: "half-close: Unix socket tunnels, warren client to OpenSSH sshd",
  ignore: skipWhen("the Unix socket half-close matrix against sshd", unsupportedBy(sshdSupport())),
}, async (t) => {
  await using sshd = await startSshd();
  await using dir = await tempDir("warren-hc-unix-");
  await unixMatrix(t, sshd, dir.path);
});

Deno.test({
  name: "half-close: Unix socket tunnels, warren client through warren serve",
  ignore: skipWhen(
    "the Unix socket half-close matrix against warren serve",
    serveTestsSkipReason(),
  ),
}, async (t) => {
  await using dir = await tempDir("warren-hc-unix-");
  await using served = await startServe({ args: ["--permit-streamlocal", `${dir.path}/*`] });
  await unixMatrix(t, { ...served, user: "tester" }, dir.path);
});
