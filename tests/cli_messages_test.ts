/**
 * The messages of a first hour with warren, run as a user runs them: one line
 * in warren's voice, the exit code that says whose mistake it was, and no
 * Node or Deno text (`EINVAL`, `(os error N)`, parseArgs's advice).
 */
import assert from "node:assert/strict";
import { runCli } from "./_harness/cli.ts";
import { startTestServer } from "./_harness/ssh_server.ts";
import { generateEd25519 } from "../lib/server/keygen.ts";

/** The lines of stderr less the usage hint, which must come with exit 2. */
function lines(r: { code: number; stderr: string }): string[] {
  const all = r.stderr.trim().split("\n");
  if (r.code === 2) assert.equal(all.at(-1), "Try 'warren --help' for more information.");
  return all.filter((l) => !l.startsWith("Try 'warren --help'"));
}

Deno.test("cli: user@host:port is a usage error naming #port and -p", async () => {
  const r = await runCli(["-B", "root@127.0.0.1:2222"]);
  assert.equal(r.code, 2, r.stderr);
  assert.deepEqual(lines(r), [
    "warren: Invalid target 'root@127.0.0.1:2222': a port goes after '#' (root@127.0.0.1#2222) " +
    "or in -p 2222",
  ]);
});

Deno.test("cli: -L -1:... is one line about the port, as getopt would read it", async () => {
  const r = await runCli(["-B", "-L", "-1:localhost:80", "h"]);
  assert.equal(r.code, 2, r.stderr);
  assert.deepEqual(lines(r), ["warren: Invalid -L '-1:localhost:80': '-1' is not a port number"]);
  const option = await runCli(["-B", "-L", "-v", "h"]);
  assert.equal(option.code, 2, option.stderr);
  assert.deepEqual(lines(option), ["warren: Option '-L' needs a value; '-v' is an option"]);
});

Deno.test("cli: a system error is said in words, without '(os error N)' and call details", async () => {
  await using server = await startTestServer();
  const pidFile = `/nonexistent-warren-${crypto.randomUUID()}/warren.pid`;
  const r = await runCli([
    ...["-B", "-i", server.clientKey, "-o", `UserKnownHostsFile=${server.knownHosts}`],
    ...["-p", `${server.port}`, "-o", `PidFile=${pidFile}`, "127.0.0.1", "--", "true"],
  ]);
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(lines(r), [
    `warren: Cannot write PidFile ${pidFile}: no such file or directory`,
  ]);
});

Deno.test("warren serve: an address not on this host and a port in use are one line each, exit 1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "warren-messages-" });
  try {
    await Deno.writeTextFile(`${dir}/ak`, `${generateEd25519("ok").public}\n`);
    await Deno.writeTextFile(`${dir}/host_key`, generateEd25519("host").private, { mode: 0o600 });
    const serve = ["serve", "--authorized-keys", `${dir}/ak`, "--host-key", `${dir}/host_key`];
    // 192.0.2.1 (TEST-NET-1) is no address of this host: nothing is sent, the bind fails.
    const elsewhere = await runCli([...serve, "--listen", "192.0.2.1:2222"], { timeoutMs: 20_000 });
    assert.equal(elsewhere.code, 1, elsewhere.stderr);
    assert.deepEqual(lines(elsewhere), [
      "warren: Cannot listen on 192.0.2.1:2222: address not available on this host",
    ]);
    using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = taken.addr.port;
    const inUse = await runCli([...serve, "--listen", `${port}`], { timeoutMs: 20_000 });
    assert.equal(inUse.code, 1, inUse.stderr);
    assert.deepEqual(lines(inUse), [
      `warren: Cannot listen on 127.0.0.1:${port}: address already in use`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
