/**
 * The half-close matrix: every tunnel kind carries 16 MiB each way in both
 * EOF orders, compared byte for byte (SHA-256 and count of each direction):
 *
 * - "far-first": the far side (the origin) sends everything and EOFs first,
 *   then the near side (the client) uploads and closes;
 * - "near-first": the near side uploads and EOFs first, then the far side's
 *   reply streams back and it closes.
 *
 * The end that closes second is the one whose last bytes may still sit in
 * ssh2's queue, waiting for the peer's window, when that close arrives: a
 * small peer window makes that queue long. So each kind runs against
 *
 * - warren's client (`-L`, `-R`, `-L socks/`, `-L ftp/` data, `-R socks/`)
 *   to OpenSSH's sshd (2 MiB window) and to the ssh2 test server in a child
 *   process advertising a 64 KiB and the default 2 MiB window;
 * - `warren serve` (direct-tcpip and tcpip-forward) with OpenSSH's ssh and
 *   warren's client (`-L`, `-R`, `-R socks/`) advertising 64 KiB and 2 MiB
 *   as its clients.
 *
 * WARREN_FULL_MATRIX=1 adds more windows and 64 MiB transfers (slow).
 * sshd and serve need root, iproute2 and OpenSSH; without them those parts
 * are ignored with one line saying why.
 */
import { sshdSupport, startSshd } from "./_harness/sshd.ts";
import { startTestServerProcess } from "./_harness/ssh_server_proc.ts";
import { createNetnsHost, type NetnsHost, netnsSupport } from "./_harness/netns.ts";
import { ORDERS } from "./_harness/halfclose.ts";
import {
  type ServerUnderTest,
  startClientTunnels,
  TUNNEL_KINDS,
  type TunnelKind,
} from "./_harness/halfclose_rig.ts";
import { skipWhen, unsupportedBy } from "./_harness/skip.ts";
import { serveTestsSkipReason, startServe } from "./_harness/serve.ts";
import { OPENSSH, startServeTunnels } from "./_harness/peer_clients.ts";

const MiB = 1024 * 1024;
const FULL = Deno.env.get("WARREN_FULL_MATRIX") === "1";
const BYTES = (FULL ? 64 : 16) * MiB;

const noNetns = unsupportedBy(netnsSupport());
const noSshd = skipWhen("half-close matrix against sshd", unsupportedBy(sshdSupport()));

/** One step per tunnel kind and order, all run even when some fail. */
async function clientMatrix(
  t: Deno.TestContext,
  server: ServerUnderTest,
  env: Record<string, string> = {},
  clientNetns?: NetnsHost,
  via: { args: string[]; kinds: readonly TunnelKind[] } = { args: [], kinds: TUNNEL_KINDS },
): Promise<void> {
  await using tunnels = await startClientTunnels(server, {
    bytes: BYTES,
    env,
    clientNetns,
    args: via.args,
    kinds: via.kinds,
  });
  for (const kind of via.kinds) {
    for (const order of ORDERS) {
      await t.step(`${kind} ${order}`, () => tunnels.exchange(kind, order));
    }
  }
}

Deno.test({ name: "half-close: warren client to OpenSSH sshd", ignore: noSshd }, async (t) => {
  await using sshd = await startSshd();
  await clientMatrix(t, sshd);
});

for (const window of FULL ? ["64K", "256K", "", "8M"] : ["64K", ""]) {
  const shown = window || "2M (default)";
  Deno.test(`half-close: warren client to the ssh2 server, window ${shown}`, async (t) => {
    // Server, warren and both sides in one namespace with small buffers
    // when this host can make one; else all on this host's loopback.
    await using netns = noNetns ? undefined : await createNetnsHost();
    await using server = await startTestServerProcess({ window, netns });
    const target = { ...server, host: "127.0.0.1", user: "tester", netns };
    await clientMatrix(t, target, {}, netns);
  });
}

// --- the SSH connection over a command's pipe and over a jump host's channel ------
// Its transport is then not a socket: the proxy command's socket
// (lib/ssh/proxy_command.ts) or the hop's channel, whose packets go back to
// their slabs once taken (recycleOnWrite in lib/ssh/transport.ts). A jump
// through the server to itself puts the inner connection in a channel of the
// outer one, under the same small or large window.
const NC = "/usr/bin/nc";
const noNc = (() => {
  try {
    return Deno.statSync(NC).isFile ? undefined : `${NC} not found`;
  } catch {
    return `${NC} not found (Debian: netcat-openbsd)`;
  }
})();
for (const window of FULL ? ["64K", "", "8M"] : ["64K", ""]) {
  const shown = window || "2M (default)";
  for (
    const [via, args] of [
      ["a ProxyCommand (nc)", () => ["-o", "ProxyCommand=nc %h %p"]],
      ["a jump host", (s: ServerUnderTest) => ["-J", `${s.user}@${s.host}#${s.port}`]],
    ] as const
  ) {
    Deno.test({
      name: `half-close: warren client to the ssh2 server through ${via}, window ${shown}`,
      ignore: skipWhen(`half-close through ${via}`, via.startsWith("a Proxy") ? noNc : undefined),
    }, async (t) => {
      await using netns = noNetns ? undefined : await createNetnsHost();
      await using server = await startTestServerProcess({ window, netns });
      const target = { ...server, host: "127.0.0.1", user: "tester", netns };
      await clientMatrix(t, target, {}, netns, { args: [...args(target)], kinds: ["-L", "-R"] });
    });
  }
}

// --- warren serve: direct-tcpip (-L) and tcpip-forward (-R) ------------------------

const noServe = skipWhen("half-close matrix against warren serve", serveTestsSkipReason());

Deno.test({ name: "half-close: OpenSSH ssh through warren serve", ignore: noServe }, async (t) => {
  await using served = await startServe();
  await using tunnels = await startServeTunnels(served, OPENSSH, {
    bytes: BYTES,
    inServeNetns: true,
  });
  for (const kind of ["-L", "-R"] as const) {
    for (const order of ORDERS) {
      await t.step(`${kind} ${order}`, () => tunnels.exchange(kind, order));
    }
  }
});

for (const window of FULL ? ["64K", "256K", "", "8M"] : ["64K", ""]) {
  const shown = window || "2M (default)";
  Deno.test({
    name: `half-close: warren client through warren serve, client window ${shown}`,
    ignore: noServe,
  }, async (t) => {
    await using served = await startServe();
    const server = { ...served, user: "tester" };
    await using tunnels = await startClientTunnels(server, {
      bytes: BYTES,
      kinds: ["-L", "-R", "-R socks/"],
      env: { WARREN_CHANNEL_WINDOW: window },
      clientNetns: served.netns,
    });
    for (const kind of ["-L", "-R", "-R socks/"] as const) {
      for (const order of ORDERS) {
        await t.step(`${kind} ${order}`, () => tunnels.exchange(kind, order));
      }
    }
  });
}
