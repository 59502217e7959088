/**
 * warren's questions at a real terminal (a pseudo-terminal, tests/_harness/
 * pty.ts), answered as a user would: a password prompt naming user@host.
 */
import assert from "node:assert/strict";
import { PtyCli, ptySupport } from "./_harness/pty.ts";
import { startTestServer, type TestServer } from "./_harness/ssh_server.ts";
import { skipWhen } from "./_harness/skip.ts";

const ignore = skipWhen("the terminal prompt tests", ptySupport());

function knownHostsArgs(server: TestServer): string[] {
  return ["-o", `UserKnownHostsFile=${server.knownHosts}`, "-p", `${server.port}`];
}

Deno.test({ name: "terminal: the password prompt names user@host", ignore }, async () => {
  await using server = await startTestServer({ acceptKey: false, password: "pw" });
  const args = ["-l", "ann", ...knownHostsArgs(server), "-o", "PreferredAuthentications=password"];
  await using cli = new PtyCli([...args, "127.0.0.1", "--", "true"], { HOME: server.dir });
  await cli.waitFor(/^ann@127\.0\.0\.1's password: $/m);
  await cli.type("pw\r");
  assert.equal(await cli.exit(), 0, cli.screen);
  assert.doesNotMatch(cli.screen, /\bpw\b/, "the password was echoed");
});
