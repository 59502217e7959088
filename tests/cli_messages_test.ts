/**
 * The messages of a first hour with warren, run as a user runs them: one line
 * in warren's voice, the exit code that says whose mistake it was, and no
 * Node or Deno text (`EINVAL`, `(os error N)`, parseArgs's advice).
 */
import assert from "node:assert/strict";
import { runCli } from "./_harness/cli.ts";
import { startTestServer } from "./_harness/ssh_server.ts";

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
