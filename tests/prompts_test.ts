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
import { generateKeyPairSync } from "../lib/ssh/ssh2_server.ts";

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
  const pair = generateKeyPairSync("ed25519", {
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

/** A tiny HTTP origin in this process. */
function origin(): Deno.HttpServer<Deno.NetAddr> & { port: number } {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => new Response(`hello ${new URL(req.url).pathname}\n`),
  );
  return Object.assign(server, { port: server.addr.port });
}

/** Wait for `pid` to be gone after SIGTERM (it removes nothing of the test's). */
async function stopBackground(pid: number): Promise<void> {
  try {
    Deno.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  for (let i = 0; i < 200; i++) {
    try {
      Deno.kill(pid, "SIGCONT"); // throws once the process is gone
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

Deno.test({
  name: "terminal: -f asks the host key question first, then goes to the background",
  ignore,
}, async () => {
  await using server = await startTestServer();
  await using web = origin();
  await Deno.writeTextFile(server.knownHosts, "");
  using probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  await using cli = new PtyCli([
    ...["-f", "-i", server.clientKey, ...knownHostsArgs(server)],
    ...["-L", `${port}:127.0.0.1:${web.port}`, "127.0.0.1"],
  ]);
  await cli.waitFor(/\(yes\/no\) $/);
  await cli.type("yes\r");
  assert.equal(await cli.exit(), 0, cli.screen);
  const pid = Number(/^(\d+)$/m.exec(cli.screen)?.[1]);
  assert.ok(pid > 0, `no PID in:\n${cli.screen}`);
  try {
    const res = await fetch(`http://127.0.0.1:${port}/bg`, { headers: { connection: "close" } });
    assert.equal(await res.text(), "hello /bg\n");
    assert.match(await Deno.readTextFile(server.knownHosts), /^\[127\.0\.0\.1\]:\d+ ssh-ed25519 /);
  } finally {
    await stopBackground(pid);
  }
});

Deno.test({
  name: "terminal: -f asks for a key's passphrase first; Ctrl-C there is exit 130",
  ignore,
}, async () => {
  await using server = await startTestServer();
  // The accepted key, encrypted as ssh-keygen -p would leave it.
  const key = `${server.dir}/id_with_passphrase`;
  await Deno.copyFile(server.clientKey, key);
  await Deno.chmod(key, 0o600);
  const keygen = await new Deno.Command("ssh-keygen", {
    args: ["-q", "-p", "-P", "", "-N", "sesame", "-f", key],
    stdout: "null",
    stderr: "piped",
  }).output().catch(() => undefined);
  if (keygen === undefined || !keygen.success) {
    console.error(
      "skipping the -f passphrase test: ssh-keygen (openssh-client) cannot encrypt a key",
    );
    return;
  }
  const args = ["-f", "-i", key, ...knownHostsArgs(server), "-L", "127.0.0.1:0:127.0.0.1:9"];
  {
    await using cli = new PtyCli([...args, "127.0.0.1"]);
    await cli.waitFor(/Enter passphrase for key '\S+id_with_passphrase': $/);
    await cli.type("sesame\r");
    assert.equal(await cli.exit(), 0, cli.screen);
    const pid = Number(/^(\d+)$/m.exec(cli.screen)?.[1]);
    assert.ok(pid > 0, `no PID in:\n${cli.screen}`);
    assert.doesNotMatch(cli.screen, /sesame/, "the passphrase was echoed");
    await stopBackground(pid);
  }
  await using cli = new PtyCli([...args, "127.0.0.1"]);
  await cli.waitFor(/Enter passphrase for key '\S+id_with_passphrase': $/);
  await cli.type("\x03");
  assert.equal(await cli.exit(), 130, cli.screen);
  assert.match(onlyWarrenLine(cli.screen), INTERRUPTED);
  assert.doesNotMatch(cli.screen, /^\d+$/m, "a PID was printed");
});
