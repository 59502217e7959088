/**
 * Stopping warren with a signal once its tunnels are up, as a user does with
 * Ctrl-C: it closes everything and exits 0, also when the server no longer
 * answers, and a second Ctrl-C while it closes changes nothing.
 */
import assert from "node:assert/strict";
import { LiveCli } from "./_harness/cli.ts";
import { startTestServer, type TestServer } from "./_harness/ssh_server.ts";

function tunnelArgs(server: TestServer): string[] {
  return [
    ...["-i", server.clientKey, "-o", `UserKnownHostsFile=${server.knownHosts}`],
    ...["-p", `${server.port}`, "--hostkey-policy=strict", "-B"],
    ...["-L", "127.0.0.1:0:127.0.0.1:9", "127.0.0.1"],
  ];
}

Deno.test("cli: SIGINT with a server that stopped answering still exits 0", async () => {
  await using server = await startTestServer();
  await using cli = new LiveCli(tunnelArgs(server));
  await cli.waitFor(/Local tunnel -L 127\.0\.0\.1:\d+/);
  // The server never answers the close: warren gives up on it after a second.
  // A hang is the failure (exit() kills after 10 s: exit code 137).
  server.freeze();
  cli.child.kill("SIGINT");
  assert.equal(await cli.exit(10_000), 0, cli.stderr);
});

Deno.test("cli: a second SIGINT during the cleanup after the first does not change exit 0", async () => {
  await using server = await startTestServer();
  await using cli = new LiveCli(tunnelArgs(server));
  await cli.waitFor(/Local tunnel -L 127\.0\.0\.1:\d+/);
  // A server that stops answering makes the cleanup wait (1 s) for its reply:
  // the second signal arrives while warren closes.
  server.freeze();
  cli.child.kill("SIGINT");
  await cli.waitFor(/Received SIGINT: closing tunnels/);
  cli.child.kill("SIGINT");
  assert.equal(await cli.exit(), 0, cli.stderr);
});
