/**
 * -C, -o Compression=yes and a profile's `<compression name="zlib">` against
 * OpenSSH's sshd: the connection negotiates zlib@openssh.com both ways (the
 * -v "Transport to ..." line says so), and without them it does not.
 */
import assert from "node:assert/strict";
import { runCli } from "./_harness/cli.ts";
import { isolatedEnv } from "./_harness/broker_rig.ts";
import { realPeersUnsupported, warrenArgs } from "./_harness/real_peers.ts";
import { skipWhen } from "./_harness/skip.ts";
import { startSshd } from "./_harness/sshd.ts";

const ignore = skipWhen("compression CLI tests", realPeersUnsupported());

const ZLIB = /Transport to .*, compression zlib@openssh\.com \/ zlib@openssh\.com$/m;
const NONE = /Transport to .*, compression none \/ none$/m;

Deno.test({
  name: '-C, -o Compression=yes and <compression name="zlib"> negotiate zlib@openssh.com',
  ignore,
}, async (t) => {
  await using sshd = await startSshd();
  const env = isolatedEnv(sshd.dir);
  const warren = (...args: string[]) =>
    runCli([...warrenArgs(sshd, "-v", ...args), "--", "true"], { env, timeoutMs: 30_000 });

  await t.step("-C", async () => {
    const r = await warren("-C");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, ZLIB);
  });

  await t.step("-o Compression=yes", async () => {
    const r = await warren("-o", "Compression=yes");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, ZLIB);
  });

  await t.step("neither: no compression", async () => {
    const r = await warren();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, NONE);
  });

  await t.step('a profile with <compression name="zlib">', async () => {
    const config = `${sshd.dir}/broker.xml`;
    await Deno.writeTextFile(
      config,
      `<?xml version="1.0" encoding="UTF-8"?>
<secsh-broker version="1.0">
  <general><known-hosts file="${sshd.knownHosts}" /></general>
  <profiles>
    <profile id="zipped" host="${sshd.host}" port="${sshd.port}" user="${sshd.user}">
      <compression name="zlib" />
      <user-identities><identity file="${sshd.clientKey}" /></user-identities>
    </profile>
  </profiles>
</secsh-broker>
`,
    );
    const r = await runCli(["--config", config, "-B", "-v", "zipped", "--", "true"], {
      env,
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, ZLIB);
  });
});
