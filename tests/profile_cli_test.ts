/**
 * A profile as the client's target, `warren [options] PROFILE`, against
 * OpenSSH sshd: the profile's settings, gateway chain and tunnels apply, and
 * options on the command line override or add to them.
 */
import assert from "node:assert/strict";
import { runCli } from "./_harness/cli.ts";
import { realPeersUnsupported } from "./_harness/real_peers.ts";
import { configXml, freePort, logins, profileXml, startBrokerRig } from "./_harness/broker_rig.ts";
import { skipWhen } from "./_harness/skip.ts";

const ignore = skipWhen("profile target tests", realPeersUnsupported("curl"));

Deno.test(
  { name: "warren PROFILE: settings, gateway chain and tunnels; options override", ignore },
  async (t) => {
    await using rig = await startBrokerRig();
    const pin = `${rig.dir}/inner.pub`;
    await Deno.writeTextFile(pin, rig.sshd.hostKeyLine.split(" ").slice(1).join(" ") + "\n");
    const [port, extra] = [freePort(), freePort()];
    const tunnel =
      `<tunnels><local-tunnel type="tcp" listen-port="${port}" dst-host="127.0.0.1" dst-port="${rig.origin.httpPort}" /></tunnels>`;
    await Deno.writeTextFile(
      rig.config,
      configXml(rig, {
        profiles: [
          profileXml(rig, "outer"),
          profileXml(rig, "inner", {
            host: "127.0.0.1",
            port: rig.innerPort,
            attrs: 'name="Inner Box" gateway-profile="outer"',
            inner: `<hostkey file="${pin}" />${tunnel}`,
          }),
          profileXml(rig, "wrongport", { port: 1 }),
        ],
      }),
    );
    const warren = (...args: string[]) =>
      runCli(["--config", rig.config, "-B", ...args], { env: rig.env });
    const curlHello = (
      p: number,
    ) => ["--", "curl", "-sS", "--max-time", "20", `http://127.0.0.1:${p}/hello`];

    await t.step("by name, through the gateway, with the profile's tunnel", async () => {
      const r = await warren("Inner Box", ...curlHello(port));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "hello from origin\n");
      assert.equal(await logins(rig.sshd, "127.0.0.1"), 1, "the inner login came through the jump");
      assert.equal(await logins(rig.sshd, rig.sshd.netns.hostAddr), 1);
    });

    await t.step("by id, with a -L of the command line added", async () => {
      const r = await warren(
        "-L",
        `${extra}:127.0.0.1:${rig.origin.httpPort}`,
        "inner",
        ...curlHello(extra),
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "hello from origin\n");
      assert.match(
        r.stderr,
        new RegExp(`Local tunnel -L 127\\.0\\.0\\.1:${port}`),
        "the profile's too",
      );
    });

    await t.step("-p overrides the profile's port", async () => {
      const wrong = await warren("wrongport", "--", "true");
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /Cannot connect to .*:1: connection refused/);
      const r = await warren("-p", String(rig.sshd.port), "wrongport", "--", "true");
      assert.equal(r.code, 0, r.stderr);
    });

    await t.step("user@host is never a profile; a broken config is exit 2", async () => {
      const r = await warren(
        "-i",
        rig.sshd.clientKey,
        "-o",
        `UserKnownHostsFile=${rig.sshd.knownHosts}`,
        `${rig.sshd.user}@${rig.sshd.host}#${rig.sshd.port}`,
        "--",
        "true",
      );
      assert.equal(r.code, 0, r.stderr);
      await Deno.writeTextFile(rig.config, "<secsh-broker>\n  <bogus/>\n</secsh-broker>\n");
      const broken = await warren("inner", "--", "true");
      assert.equal(broken.code, 2);
      assert.match(
        broken.stderr,
        new RegExp(`^warren: ${rig.config}:2:3: unknown element <bogus>`),
      );
    });
  },
);
