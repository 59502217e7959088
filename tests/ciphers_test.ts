/**
 * Live connections through warren's packet ciphers (lib/ssh/crypto/hook.ts),
 * for every AEAD cipher and aes128-ctr, with each crypto backend: bytes both
 * ways through a -L tunnel while the connection re-keys; and aes-ctr with
 * each HMAC warren frames against OpenSSH's sshd. (The hook's static checks
 * are in lib/ssh/crypto/hook_test.ts.)
 */
import assert from "node:assert/strict";
import { connectSsh } from "../lib/ssh/connection.ts";
import { activeCrypto, configureCrypto, usesWarrenCiphers } from "../lib/ssh/crypto/hook.ts";
import { sinkCount } from "../lib/ssh/transport.ts";
import { channelDataSealed } from "../lib/ssh/channel_data.ts";
import { startTestServer } from "./_harness/ssh_server.ts";
import { startOrigin } from "./_harness/origin.ts";
import { sshdSupport, startSshd } from "./_harness/sshd.ts";
import { skipWhen, unsupportedBy } from "./_harness/skip.ts";
import { sshOptions, tunnelTo } from "./_harness/real_peers.ts";
import {
  assertSameBytes,
  roundTrip,
  startEchoServer,
  testBytes,
} from "./_harness/local_servers.ts";

const AEAD = ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com"];

for (const mode of ["builtin", "openssl"] as const) {
  const available = mode === "builtin" || configureCrypto("auto").name === "openssl";
  Deno.test({
    name: `live connections use warren's ciphers (${mode}), carry bytes both ways, re-key`,
    ignore: !available,
    fn: async () => {
      configureCrypto(mode);
      try {
        await using server = await startTestServer();
        await using echo = startEchoServer();
        for (const cipher of [...AEAD, "aes128-ctr"]) {
          await using ssh = await connectSsh(sshOptions(server, { ciphers: [cipher] }));
          // AEAD ciphers are sealed by warren; aes-ctr too with libcrypto,
          // with ssh2 under the builtin backend.
          const warrens = mode === "openssl" || cipher !== "aes128-ctr";
          assert.equal(usesWarrenCiphers(ssh.client), warrens, cipher);
          assert.equal(activeCrypto().primitives.name, mode);
          const tunnel = tunnelTo(ssh, echo.port);
          await tunnel.start();
          try {
            // Re-key twice while bytes flow both ways: ssh2 swaps the
            // decipher's payload handler and resets sequence numbers then.
            const protocol = (ssh.client as unknown as { _protocol: { rekey(): void } })._protocol;
            const handshakes = new Promise<void>((resolve) => {
              let n = 0;
              ssh.client.on("handshake", () => {
                if (++n === 1) protocol.rekey();
                else resolve();
              });
            });
            const rekeys = [setTimeout(() => protocol.rekey(), 5)];
            try {
              const data = testBytes(24 * 1024 * 1024 + 17, 3);
              const sunk = sinkCount();
              const sealed = channelDataSealed();
              const back = await roundTrip(tunnel.addresses[0].port, data);
              assert.equal(back.length, data.length, cipher);
              assertSameBytes(back, data, cipher);
              // warren's sealer frames the upload's CHANNEL_DATA itself
              // (ssh2 keeps the packets queued during a key exchange).
              const framed = channelDataSealed() - sealed;
              if (!warrens) assert.equal(framed, 0, cipher);
              else assert.ok(framed > 100, `${cipher}: ${framed} framed by warren`);
              // AES-GCM and aes-ctr with libcrypto decrypt the tunnel's data
              // straight into the pump's buffers, re-keys and all.
              if (mode === "openssl" && cipher.startsWith("aes")) {
                assert.ok(sinkCount() - sunk > 100, `${cipher}: ${sinkCount() - sunk} sunk`);
              }
              await handshakes;
              assert.equal(usesWarrenCiphers(ssh.client), warrens, cipher);
            } finally {
              rekeys.forEach(clearTimeout);
            }
          } finally {
            await tunnel.close();
          }
        }
      } finally {
        configureCrypto("auto");
      }
    },
  });
}

const ignoreSshd = skipWhen("aes-ctr against OpenSSH sshd", unsupportedBy(sshdSupport()));
const MiB = 1024 * 1024;

Deno.test({
  name:
    "openssh: aes-ctr with each HMAC, framed by warren (libcrypto), echoes 8 MiB intact through re-keys every 1 MiB",
  ignore: ignoreSshd || configureCrypto("auto").name !== "openssl",
  fn: async (t) => {
    await using sshd = await startSshd({ extraConfig: ["RekeyLimit 1M"] });
    await using origin = await startOrigin({ netns: sshd.netns });
    for (
      const [cipher, mac, compression] of [
        ["aes128-ctr", "hmac-sha2-256", false],
        ["aes256-ctr", "hmac-sha2-512-etm@openssh.com", false],
        ["aes192-ctr", "hmac-sha1", false],
        ["aes128-ctr", "hmac-sha2-256-etm@openssh.com", false],
        // Compressed packets are sealed by ssh2's route, padded by warren's sealer.
        ["aes128-ctr", "hmac-sha2-256", true],
      ] as const
    ) {
      await t.step(`${cipher} + ${mac}${compression ? ", compressed" : ""}`, async () => {
        await using ssh = await connectSsh(
          sshOptions(sshd, { ciphers: [cipher], macs: [mac], compression }),
        );
        // deno-lint-ignore no-explicit-any
        const negotiated = (ssh.client as any)._protocol._kex.negotiated;
        assert.deepEqual([negotiated.cs.cipher, negotiated.cs.mac], [cipher, mac]);
        assert.deepEqual([negotiated.sc.cipher, negotiated.sc.mac], [cipher, mac]);
        assert.equal(negotiated.cs.compress, compression ? "zlib@openssh.com" : "none");
        assert.ok(usesWarrenCiphers(ssh.client), "warren frames it");
        let handshakes = 0;
        ssh.client.on("handshake", () => handshakes++);
        const tunnel = tunnelTo(ssh, origin.echoPort);
        await tunnel.start();
        try {
          const sealed = channelDataSealed();
          const sunk = sinkCount();
          const data = testBytes(8 * MiB + 29, 11);
          const back = await roundTrip(tunnel.addresses[0].port, data);
          assertSameBytes(back, data, `${cipher} + ${mac}`);
          // Uncompressed, warren frames the upload's data and decrypts the
          // echo into the pump's buffers; compressed, both go ssh2's way.
          assert.equal(channelDataSealed() - sealed > 100, !compression, "framed by warren");
          assert.equal(sinkCount() - sunk > 100, !compression, "decrypted into the pump's buffers");
          // sshd re-keys after each 1 MiB it receives or sends.
          assert.ok(handshakes >= 3, `${handshakes} re-keys`);
          assert.ok(usesWarrenCiphers(ssh.client), "still warren's after the re-keys");
        } finally {
          await tunnel.close();
        }
      });
    }
  },
});
