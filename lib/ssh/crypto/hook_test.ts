/**
 * The override of ssh2's cipher factory (hook.ts) must stay in force: these
 * tests fail if ssh2 is upgraded past the version it was written for, if
 * something imports ssh2 around lib/ssh/ssh2.ts, or if a live connection
 * stops using warren's ciphers for any AEAD cipher with either backend.
 */
import assert from "node:assert/strict";
import { connectSsh } from "../connection.ts";
import { activeCrypto, configureCrypto, preferredCiphers, usesWarrenCiphers } from "./hook.ts";
import { startTestServer } from "../../../tests/_harness/ssh_server.ts";
import { sshOptions } from "../../../tests/_harness/real_peers.ts";
import { roundTrip, startEchoServer, testBytes } from "../../../tests/_harness/local_servers.ts";
import { LocalTunnel } from "../../tunnel/local.ts";
import { ActivityTracker } from "../../commands/client.ts";

const ROOT = new URL("../../../", import.meta.url);

Deno.test("ssh2 is pinned to the version the cipher hook was written for", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  // On an upgrade: re-read ssh2's lib/protocol/crypto.js and kex.js, check
  // that kex.js still takes createCipher/createDecipher from crypto.js and
  // the cipher/decipher interface is unchanged, then update this pin.
  assert.equal(config.imports.ssh2, "npm:ssh2@1.17.0");
});

Deno.test("only lib/ssh/ssh2.ts imports ssh2 itself (the hook must load first)", async () => {
  const offenders: string[] = [];
  const walk = async (dir: URL, rel: string) => {
    for await (const e of Deno.readDir(dir)) {
      const path = `${rel}${e.name}`;
      if (e.isDirectory && !e.name.startsWith(".") && e.name !== "node_modules") {
        await walk(new URL(`${e.name}/`, dir), `${path}/`);
      } else if (e.isFile && e.name.endsWith(".ts") && path !== "lib/ssh/ssh2.ts") {
        const text = await Deno.readTextFile(new URL(e.name, dir));
        if (/from\s+["'](npm:)?ssh2(@[\d.]+)?["']/.test(text)) offenders.push(path);
      }
    }
  };
  for (const top of ["lib/", "tests/"]) await walk(new URL(top, ROOT), top);
  const main = await Deno.readTextFile(new URL("main.ts", ROOT));
  if (/from\s+["'](npm:)?ssh2["']/.test(main)) offenders.push("main.ts");
  assert.deepEqual(offenders, []);
});

Deno.test("the default cipher order puts the backend's fastest AEAD first", () => {
  try {
    assert.equal(configureCrypto("builtin").name, "builtin");
    assert.equal(preferredCiphers()[0], "chacha20-poly1305@openssh.com");
    const p = configureCrypto("auto");
    assert.equal(
      preferredCiphers()[0],
      p.name === "openssl" ? "aes128-gcm@openssh.com" : "chacha20-poly1305@openssh.com",
    );
    assert.throws(() => configureCrypto("fast"), /Invalid WARREN_CRYPTO 'fast'/);
  } finally {
    configureCrypto("auto");
  }
});

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
          // AEAD ciphers are sealed by warren; aes-ctr stays with ssh2.
          assert.equal(usesWarrenCiphers(ssh.client), cipher !== "aes128-ctr", cipher);
          assert.equal(activeCrypto().primitives.name, mode);
          const tunnel = new LocalTunnel(
            {
              protocol: "tcp",
              listenAddress: "127.0.0.1",
              listenPort: 0,
              dstHost: "127.0.0.1",
              dstPort: echo.port,
            },
            false,
            (a, b, c, d) => ssh.openDirect(a, b, c, d),
            new ActivityTracker(),
          );
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
              const back = await roundTrip(tunnel.addresses[0].port, data);
              assert.equal(back.length, data.length, cipher);
              assert.deepEqual(back, data, cipher);
              await handshakes;
              assert.ok(usesWarrenCiphers(ssh.client) === (cipher !== "aes128-ctr"), cipher);
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
