/**
 * `warren probe-key` against OpenSSH sshd: the printed fingerprint is the
 * one ssh-keygen computed for the server's key, sshd's log shows no
 * authentication attempt, and --save-hostkey writes a known_hosts line that
 * a strict warren run then accepts.
 */
import assert from "node:assert/strict";
import { runCli } from "./_harness/cli.ts";
import { freePort, isolatedEnv } from "./_harness/broker_rig.ts";
import { sshdSupport, startSshd } from "./_harness/sshd.ts";
import { skipWhen, unsupportedBy } from "./_harness/skip.ts";

const support = sshdSupport();
const ignore = skipWhen("probe-key tests", unsupportedBy(support));

Deno.test(
  { name: "probe-key: prints the key without authenticating; --save-hostkey", ignore },
  async (t) => {
    await using sshd = await startSshd();
    const home = `${sshd.dir}/home`;
    await Deno.mkdir(home);
    const env = isolatedEnv(home);
    const target = `${sshd.host}#${sshd.port}`;
    const knownHosts = `${home}/.ssh/known_hosts`;
    const keyType = sshd.hostKeyLine.split(" ")[1];

    await t.step("type and SHA256 fingerprint, and no authentication", async () => {
      const r = await runCli(["probe-key", target], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        r.stdout,
        `${target} ${keyType} ${sshd.hostKeyFingerprint}\n` +
          `Not in ${knownHosts} (add it with --save-hostkey)\n`,
      );
      const log = await sshd.log();
      assert.match(log, /Connection from/);
      assert.doesNotMatch(log, /userauth-request|Accepted |Failed /);
    });

    await t.step("--save-hostkey adds it; a strict run then accepts the server", async () => {
      const r = await runCli(["probe-key", "--save-hostkey", target], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`Saved to ${knownHosts}\n$`));
      const line = `[${sshd.host}]:${sshd.port} ${
        sshd.hostKeyLine.split(" ").slice(1).join(" ")
      }\n`;
      assert.equal(await Deno.readTextFile(knownHosts), line);
      assert.equal((await Deno.stat(knownHosts)).mode! & 0o777, 0o600);
      const again = await runCli(["probe-key", "--save-hostkey", target], { env });
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, new RegExp(`Known: ${knownHosts}:1\n$`));
      assert.equal(await Deno.readTextFile(knownHosts), line, "not written twice");
      const strict = await runCli([
        ...["-i", sshd.clientKey, "--hostkey-policy=strict", "-B"],
        `${sshd.user}@${target}`,
        ...["--", "true"],
      ], { env });
      assert.equal(strict.code, 0, strict.stderr);
      assert.match(await sshd.log(), /Accepted publickey/, "the log shows a real login");
    });

    await t.step("a different known key is not overwritten", async () => {
      const other = `${home}/other_known_hosts`;
      const fake = sshd.hostKeyLine.replace(
        / (\S+)$/,
        " AAAAC3NzaC1lZDI1NTE5AAAAIBn0TvNfyQqXkh2S7i2n3V6ZtXYfGQ0uN6x9z1w2e3r4",
      );
      await Deno.writeTextFile(other, fake + "\n");
      const r = await runCli(["probe-key", "--save-hostkey", "--known-hosts", other, target], {
        env,
      });
      assert.equal(r.code, 1);
      assert.match(r.stdout, new RegExp(`^${target} ${keyType} SHA256:`));
      assert.equal(
        r.stderr,
        `warren: ${other}:1 has another key for ${target} (${keyType}): not saved\n`,
      );
      assert.equal(await Deno.readTextFile(other), fake + "\n");
    });

    await t.step("nobody listening: one line, exit 1; bad target: exit 2", async () => {
      const r = await runCli(["probe-key", `127.0.0.1#${freePort()}`], { env });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^warren: Cannot connect to 127\.0\.0\.1:\d+: connection refused\n$/);
      const bad = await runCli(["probe-key", "a b"], { env });
      assert.equal(bad.code, 2);
      const none = await runCli(["probe-key"], { env });
      assert.equal(none.code, 2);
      assert.match(none.stderr, /expected one host\[#port\]/);
    });
  },
);
