/**
 * Key files as a user gets them wrong, run as a user runs warren: a public
 * key given where the private key belongs, and a private key other users can
 * read (refused as OpenSSH refuses it, by the client and by `warren serve`).
 */
import assert from "node:assert/strict";
import { runCli } from "./_harness/cli.ts";
import { startTestServer, type TestServer } from "./_harness/ssh_server.ts";
import { generateEd25519 } from "../lib/server/keygen.ts";

function base(server: TestServer, key: string, ...extra: string[]): string[] {
  return [
    ...["-B", "-i", key, "-o", `UserKnownHostsFile=${server.knownHosts}`],
    ...["--hostkey-policy=strict", "-p", `${server.port}`],
    ...extra,
  ];
}

/** The client key's public half beside it, as ssh-keygen leaves it. */
async function writePublic(server: TestServer): Promise<string> {
  const text = await Deno.readTextFile(server.clientKey);
  const { utils } = await import("../lib/ssh/ssh2.ts");
  const parsed = utils.parseKey(text);
  if (parsed instanceof Error || Array.isArray(parsed)) throw new Error("bad test key");
  const pub = `${server.clientKey}.pub`;
  await Deno.writeTextFile(pub, `${parsed.type} ${parsed.getPublicSSH().toString("base64")}\n`);
  return pub;
}

Deno.test("cli: -i key.pub says it is a public key and names the private key", async () => {
  await using server = await startTestServer();
  const pub = await writePublic(server);
  const r = await runCli([...base(server, pub, "127.0.0.1"), "--", "true"]);
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stderr.trim().split("\n");
  assert.equal(
    lines[0],
    `warren: warning: Identity file ${pub} is a public key: give its private key, ` +
      `${server.clientKey}`,
  );
  assert.match(lines[1], /^warren: Cannot authenticate as \S+ to 127\.0\.0\.1:\d+: tried no/);
  assert.equal(lines.length, 2, r.stderr);
  assert.deepEqual(server.authAttempts, ["none"], "the public key was offered as a key");

  // A .pub alone: the private key is named by what it should be.
  const lone = `${server.dir}/lone.pub`;
  await Deno.rename(pub, lone);
  const alone = await runCli([...base(server, lone, "127.0.0.1"), "--", "true"]);
  assert.match(
    alone.stderr,
    /warning: Identity file \S+lone\.pub is a public key: give the private key file \(the one without \.pub\)/,
  );

  // The private key, as the message says, works.
  const ok = await runCli([...base(server, server.clientKey, "127.0.0.1"), "--", "true"]);
  assert.equal(ok.code, 0, ok.stderr);
});

Deno.test({
  name: "cli: a private key other users can read is not used (OpenSSH's rule), and 0600 is",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    await using server = await startTestServer();
    await Deno.chmod(server.clientKey, 0o644);
    const r = await runCli([...base(server, server.clientKey, "127.0.0.1"), "--", "true"]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(
      r.stderr.trim().split("\n")[0],
      `warren: warning: Identity file ${server.clientKey} not used: mode 0644 lets other users ` +
        `read it (chmod 600 ${server.clientKey})`,
    );
    assert.ok(!server.authAttempts.includes("publickey"), "the key was offered");
    // As a default identity (~/.ssh/id_ed25519) too.
    const home = `${server.dir}/home`;
    await Deno.mkdir(`${home}/.ssh`, { recursive: true });
    await Deno.copyFile(server.clientKey, `${home}/.ssh/id_ed25519`);
    await Deno.chmod(`${home}/.ssh/id_ed25519`, 0o640);
    const byDefault = await runCli(
      [
        ...["-B", "-o", `UserKnownHostsFile=${server.knownHosts}`, "-p", `${server.port}`],
        ...["127.0.0.1", "--", "true"],
      ],
      { env: { HOME: home } },
    );
    assert.equal(byDefault.code, 1, byDefault.stderr);
    assert.match(byDefault.stderr, /id_ed25519 not used: mode 0640 lets other users read it/);

    await Deno.chmod(server.clientKey, 0o600);
    const ok = await runCli([...base(server, server.clientKey, "127.0.0.1"), "--", "true"]);
    assert.equal(ok.code, 0, ok.stderr);
  },
});

Deno.test({
  name: "warren serve refuses a host key other users can read (exit 2, one line)",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "warren-keys-" });
    try {
      await Deno.writeTextFile(`${dir}/ak`, `${generateEd25519("ok").public}\n`);
      await Deno.writeTextFile(`${dir}/host_key`, generateEd25519("host").private, { mode: 0o644 });
      await Deno.chmod(`${dir}/host_key`, 0o644);
      const r = await runCli(
        [
          "serve",
          "--authorized-keys",
          `${dir}/ak`,
          "--host-key",
          `${dir}/host_key`,
          "--listen",
          "0",
        ],
      );
      assert.equal(r.code, 2, r.stderr);
      assert.equal(
        r.stderr.trim(),
        `warren: Cannot use host key ${dir}/host_key: mode 0644 lets other users read it ` +
          `(chmod 600 ${dir}/host_key)`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
