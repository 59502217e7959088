/**
 * `deno task start` as a user runs it from wherever they stand: the repository
 * is where the task runs, but relative paths on its command line are the
 * user's. Deno passes the user's directory as INIT_CWD (and keeps one that is
 * already set, as npm does: the runs here start without it, as from a shell).
 */
import assert from "node:assert/strict";
import { runCommand } from "./_harness/live_proc.ts";
import { startTestServer } from "./_harness/ssh_server.ts";

const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

function denoTask(cwd: string, args: string[]) {
  const env = Deno.env.toObject();
  delete env.INIT_CWD; // set when this test itself runs under `deno task test`
  return runCommand(
    new Deno.Command(Deno.execPath(), {
      args: ["task", "-q", ...args],
      cwd,
      clearEnv: true,
      env: { ...env, NO_COLOR: "1", SSH_AUTH_SOCK: "" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }),
    60_000,
  );
}

Deno.test("deno task start from a subdirectory reads a relative path there", async () => {
  // config/ holds the example config: `config check` of its bare name works only from there.
  const r = await denoTask(`${REPO}/config`, ["start", "config", "check", "ssh-broker-config.xml"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ssh-broker-config\.xml: OK: 2 profiles/);
});

Deno.test("deno task --config REPO/deno.json start from another directory: -i and known_hosts there", async () => {
  await using server = await startTestServer();
  const r = await denoTask(server.dir, [
    ...["--config", `${REPO}/deno.json`, "start"],
    ...["-B", "-i", "id_ed25519", "-o", `UserKnownHostsFile=${server.knownHosts.split("/").pop()}`],
    ...["--hostkey-policy=strict", "-p", `${server.port}`, "127.0.0.1", "--", "pwd"],
  ]);
  assert.equal(r.code, 0, r.stderr);
  // The local command runs there too, and does not see warren's variable.
  assert.equal(r.stdout.trim(), await Deno.realPath(server.dir));
  assert.deepEqual(server.authAttempts.slice(-1), ["publickey"]);
});
