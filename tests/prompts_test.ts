/**
 * warren's questions at a real terminal (a pseudo-terminal, tests/_harness/
 * pty.ts), answered or interrupted as a user would: the host key question, a
 * key's passphrase, a password naming user@host, and Ctrl-C at each of them
 * and while connecting, which all end the same way: one line, "Interrupted
 * while connecting to HOST:PORT", exit 130 (as OpenSSH's ssh, killed by
 * SIGINT).
 */
import assert from "node:assert/strict";
import { PtyCli, ptySupport } from "./_harness/pty.ts";
import { startTestServer, type TestServer } from "./_harness/ssh_server.ts";
import { skipWhen } from "./_harness/skip.ts";
import { utils } from "../lib/ssh/ssh2.ts";

const ignore = skipWhen("the terminal prompt tests", ptySupport());

const INTERRUPTED = /^warren: Interrupted while connecting to 127\.0\.0\.1:\d+$/m;

function knownHostsArgs(server: TestServer): string[] {
  return ["-o", `UserKnownHostsFile=${server.knownHosts}`, "-p", `${server.port}`];
}

/** The last line warren printed on the terminal, and that it is the only warren: line. */
function onlyWarrenLine(screen: string): string {
  const lines = screen.replaceAll("^C", "").split("\n").filter((l) => l.startsWith("warren:"));
  assert.equal(lines.length, 1, `expected one warren: line, got:\n${screen}`);
  return lines[0];
}

/** A passphrase-protected copy of the test server's accepted key? No: a new one, encrypted. */
async function encryptedKey(dir: string): Promise<string> {
  const pair = utils.generateKeyPairSync("ed25519", {
    passphrase: "sesame",
    cipher: "aes256-ctr",
    rounds: 16,
  });
  const file = `${dir}/id_encrypted`;
  await Deno.writeTextFile(file, pair.private, { mode: 0o600 });
  return file;
}

Deno.test({ name: "terminal: the host key question, answered yes", ignore }, async () => {
  await using server = await startTestServer();
  await Deno.writeTextFile(server.knownHosts, "");
  await using cli = new PtyCli([
    ...["-i", server.clientKey, ...knownHostsArgs(server), "127.0.0.1", "--", "true"],
  ]);
  await cli.waitFor(
    /The authenticity of host 127\.0\.0\.1:\d+ cannot be established \(ssh-ed25519 SHA256:\S+\)\. Trust it and add it to \S+known_hosts\? \(yes\/no\) $/,
  );
  await cli.type("yes\r");
  assert.equal(await cli.exit(), 0, cli.screen);
  assert.match(cli.screen, /warren: Added host key for 127\.0\.0\.1:\d+ \(ssh-ed25519 /);
  assert.match(await Deno.readTextFile(server.knownHosts), /^\[127\.0\.0\.1\]:\d+ ssh-ed25519 /);
});

Deno.test(
  { name: "terminal: Ctrl-C at the host key question: exit 130, one line", ignore },
  async () => {
    await using server = await startTestServer();
    await Deno.writeTextFile(server.knownHosts, "");
    await using cli = new PtyCli(["-i", server.clientKey, ...knownHostsArgs(server), "127.0.0.1"]);
    await cli.waitFor(/\(yes\/no\) $/);
    await cli.type("\x03");
    assert.equal(await cli.exit(), 130, cli.screen);
    assert.match(onlyWarrenLine(cli.screen), INTERRUPTED);
    assert.equal(await Deno.readTextFile(server.knownHosts), "", "the key was stored");
    assert.deepEqual(server.authAttempts, []);
  },
);

Deno.test(
  { name: "terminal: Ctrl-C at a key's passphrase: exit 130, one line", ignore },
  async () => {
    await using server = await startTestServer();
    const key = await encryptedKey(server.dir);
    await using cli = new PtyCli(["-i", key, ...knownHostsArgs(server), "127.0.0.1"]);
    await cli.waitFor(/Enter passphrase for key '\S+id_encrypted': $/);
    await cli.type("\x03");
    assert.equal(await cli.exit(), 130, cli.screen);
    assert.match(onlyWarrenLine(cli.screen), INTERRUPTED);
  },
);

Deno.test({
  name: "terminal: the password prompt names user@host; Ctrl-C there is exit 130 too",
  ignore,
}, async () => {
  await using server = await startTestServer({ acceptKey: false, password: "pw" });
  const args = ["-l", "ann", ...knownHostsArgs(server), "-o", "PreferredAuthentications=password"];
  {
    await using cli = new PtyCli([...args, "127.0.0.1", "--", "true"], { HOME: server.dir });
    await cli.waitFor(/^ann@127\.0\.0\.1's password: $/m);
    await cli.type("pw\r");
    assert.equal(await cli.exit(), 0, cli.screen);
    assert.doesNotMatch(cli.screen, /\bpw\b/, "the password was echoed");
  }
  await using cli = new PtyCli([...args, "127.0.0.1"], { HOME: server.dir });
  await cli.waitFor(/ann@127\.0\.0\.1's password: $/);
  await cli.type("\x03");
  assert.equal(await cli.exit(), 130, cli.screen);
  assert.match(onlyWarrenLine(cli.screen), INTERRUPTED);
  assert.doesNotMatch(cli.screen, /tried no usable method/);
});

Deno.test(
  { name: "terminal: Ctrl-C while connecting: exit 130, the same line", ignore },
  async () => {
    // A server that accepts and never speaks SSH: warren waits in the handshake.
    using silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const accepted: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const conn of silent) accepted.push(conn);
    })().catch(() => {});
    try {
      await using cli = new PtyCli(["-v", "-p", `${silent.addr.port}`, "127.0.0.1"]);
      await cli.waitFor(/Connecting to 127\.0\.0\.1:\d+ as /);
      while (accepted.length === 0) await new Promise((r) => setTimeout(r, 10));
      await cli.type("\x03"); // the terminal is cooked: the kernel sends SIGINT
      assert.equal(await cli.exit(), 130, cli.screen);
      // The terminal echoes the Ctrl-C as ^C before warren's line.
      const lines = cli.screen.replaceAll("^C", "").split("\n").filter((l) =>
        /^warren: (?!debug:)/.test(l)
      );
      assert.equal(lines.length, 1, cli.screen);
      assert.match(lines[0], INTERRUPTED);
    } finally {
      silent.close();
      await accepting;
      for (const c of accepted) c.close();
    }
  },
);
