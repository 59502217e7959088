/**
 * Key files as a user gets them wrong, run as a user runs warren: a public
 * key given where the private key belongs.
 */
import assert from "node:assert/strict";
import { runCli } from "./_harness/cli.ts";
import { startTestServer, type TestServer } from "./_harness/ssh_server.ts";

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
