/**
 * The peer matrix: SSH implementations other than OpenSSH that users meet,
 * from Debian, each moving 16 MiB each way in both EOF orders (see
 * tests/halfclose_test.ts), compared byte for byte.
 *
 * - dropbear (dropbear-bin) as the server for warren's client: -L and -R.
 * - As clients of `warren serve`: PuTTY's plink (putty-tools), dropbear's
 *   dbclient (dropbear-bin) and asyncssh (python3-asyncssh) forwarding -L
 *   and -R with their own forwarders, and paramiko (python3-paramiko)
 *   exchanging directly on a direct-tcpip or forwarded-tcpip channel.
 * - plink keeps its session when serve closes a channel while data still
 *   streams to it (PuTTY has a winadj@putty.projects.tartarus.org request
 *   outstanding most of that time, and dies on a reply to a closed channel).
 *
 * Keys are ed25519; WARREN_PEER_KEYS=ed25519,ecdsa,rsa runs each key type
 * (client and host keys). WARREN_FULL_MATRIX=1 adds other windows. A peer
 * that is not installed skips its test with one line saying so; all need
 * root and iproute2 (network namespaces).
 */
import assert from "node:assert/strict";
import { freePort } from "./_harness/free_port.ts";
import { dropbearUnsupported, startDropbear } from "./_harness/dropbear.ts";
import { assertExchange, ORDERS, runNear, startExchangeOrigin } from "./_harness/halfclose.ts";
import { startClientTunnels } from "./_harness/halfclose_rig.ts";
import { netnsSupport } from "./_harness/netns.ts";
import {
  ASYNCSSH,
  DBCLIENT,
  type ForwardingClient,
  paramikoExchange,
  paramikoMissing,
  PLINK,
  startServeTunnels,
  waitForTunnels,
} from "./_harness/peer_clients.ts";
import { serveTestsSkipReason, startServe } from "./_harness/serve.ts";
import { skipWhen, unsupportedBy } from "./_harness/skip.ts";

const MiB = 1024 * 1024;
const FULL = Deno.env.get("WARREN_FULL_MATRIX") === "1";
const BYTES = 16 * MiB;
const KEYS = (Deno.env.get("WARREN_PEER_KEYS") || "ed25519").split(",").map((k) => k.trim());

const noNetns = unsupportedBy(netnsSupport());

// --- dropbear as the server ---------------------------------------------------

const noDropbear = skipWhen("dropbear server tests", noNetns ?? dropbearUnsupported());
for (const key of KEYS) {
  for (const window of FULL ? [undefined, 64 * 1024, 2 * MiB] : [undefined]) {
    const shown = window ? `window ${window / 1024} KiB` : "default window (24 KiB)";
    Deno.test({
      name: `peers: warren client to dropbear, ${key} keys, ${shown}`,
      ignore: noDropbear,
    }, async (t) => {
      await using dropbear = await startDropbear({
        hostKeyType: key,
        clientKeyType: key,
        window,
      });
      await using tunnels = await startClientTunnels(dropbear, {
        bytes: BYTES,
        kinds: ["-L", "-R"],
      });
      for (const kind of ["-L", "-R"] as const) {
        for (const order of ORDERS) {
          await t.step(`${kind} ${order}`, () => tunnels.exchange(kind, order));
        }
      }
    });
  }
}

// What dropbear before 2020 (still on many routers and appliances) and other
// servers without the AEAD ciphers offer: aes-ctr with hmac-sha2-256, which
// warren frames itself where libcrypto loads.
Deno.test({
  name: "peers: warren client to dropbear at aes128-ctr + hmac-sha2-256",
  ignore: noDropbear,
}, async (t) => {
  await using dropbear = await startDropbear({ hostKeyType: "ed25519", clientKeyType: "ed25519" });
  await using tunnels = await startClientTunnels(dropbear, {
    bytes: BYTES,
    kinds: ["-L", "-R"],
    args: ["-v", "-o", "Ciphers=aes128-ctr", "-o", "MACs=hmac-sha2-256"],
  });
  await tunnels.cli.waitFor(
    /Transport to \S+: aes128-ctr \+ hmac-sha2-256 \/ aes128-ctr \+ hmac-sha2-256, sealed by /,
  );
  for (const kind of ["-L", "-R"] as const) {
    for (const order of ORDERS) {
      await t.step(`${kind} ${order}`, () => tunnels.exchange(kind, order));
    }
  }
});

// --- clients of warren serve --------------------------------------------------

const noServe = serveTestsSkipReason();

function serveClientTest(client: ForwardingClient, options: { compression?: string } = {}) {
  const ignore = skipWhen(`${client.name} against warren serve`, noServe ?? client.missing());
  for (const key of KEYS) {
    const extra = options.compression ? `, compression ${options.compression}` : "";
    Deno.test(
      { name: `peers: ${client.name} to warren serve, ${key} keys${extra}`, ignore },
      async (t) => {
        await using served = await startServe({ keyType: key, hostKeyType: key });
        await using tunnels = await startServeTunnels(served, client, {
          bytes: BYTES,
          // The client beside serve, with its small buffers; but PuTTY
          // 0.78 itself drops the ~0.2 MiB it still holds for a slow local
          // reader when a CHANNEL_CLOSE comes (with OpenSSH's sshd too), so
          // plink stays on this host, where its socket never backs up.
          inServeNetns: client !== PLINK,
          ...options,
        });
        for (const kind of client.remote ? ["-L", "-R"] as const : ["-L"] as const) {
          for (const order of ORDERS) {
            await t.step(`${kind} ${order}`, () => tunnels.exchange(kind, order));
          }
        }
        assert.ok(tunnels.client.running, `${client.name} exited:\n${tunnels.client.output}`);
      },
    );
  }
}

serveClientTest(PLINK);
serveClientTest(DBCLIENT);
serveClientTest(ASYNCSSH);
// asyncssh asks for zlib@openssh.com first; without it, the half-close cases
// are shown apart from compression.
serveClientTest(ASYNCSSH, { compression: "none" });

const noParamiko = skipWhen("paramiko against warren serve", noServe ?? paramikoMissing());
for (const key of KEYS) {
  Deno.test(
    { name: `peers: paramiko to warren serve, ${key} keys`, ignore: noParamiko },
    async (t) => {
      await using served = await startServe({ keyType: key, hostKeyType: key, args: ["-v"] });
      for (const kind of ["-L", "-R"] as const) {
        for (const order of ORDERS) {
          await t.step(
            `${kind} ${order}`,
            () => paramikoExchange(served, kind, order, BYTES, { inServeNetns: true }),
          );
        }
      }
      // paramiko 2.12 asks for aes128-ctr and hmac-sha2-256 first: serve frames
      // them itself (lib/ssh/crypto/ciphers.ts) where libcrypto loads.
      assert.match(served.log(), /transport aes128-ctr \/ aes128-ctr, compression none \/ none/);
    },
  );
}

// --- PuTTY's winadj after a close ---------------------------------------------

const ABORTS = 10;

Deno.test({
  name: "peers: plink keeps its session when serve closes a channel mid-stream",
  ignore: skipWhen("plink against warren serve", noServe ?? PLINK.missing()),
}, async () => {
  await using served = await startServe();
  await using origin = await startExchangeOrigin({ netns: served.netns, bytes: 8 * MiB });
  const [abort, good, probe] = [freePort(), freePort(), freePort()];
  await using plink = await PLINK.start(served, {
    local: [
      { listen: abort, dst: origin.ports.abort },
      { listen: good, dst: origin.ports.sendFirst },
      { listen: probe, dst: origin.ports.probe },
    ],
    remote: [],
  });
  await waitForTunnels(probe, plink, served);
  // Each time the origin resets while 8 MiB stream towards plink, serve
  // closes the channel with plink's winadj request often still on its way.
  for (let i = 1; i <= ABORTS; i++) {
    await runNear({ port: abort, order: "near-first", bytes: 8 * MiB });
    assert.ok(plink.running, `plink died after ${i} mid-stream close(s):\n${plink.stderr}`);
  }
  // And its session still carries a second connection.
  const near = await runNear({ port: good, order: "far-first", bytes: 8 * MiB });
  assertExchange("after the resets", near, await origin.next("sendFirst", 20_000), 8 * MiB);
  assert.doesNotMatch(plink.stderr, /FATAL ERROR/);
});
