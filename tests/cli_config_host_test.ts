/**
 * `--config FILE` with a host target (`user@host#port`), run as a user runs
 * it: a file that cannot be read or is wrong is an error before connecting,
 * and a good one lends its `<default-settings>` and `<general><known-hosts>`
 * to the host, as sshg3 takes them from the broker's configuration; the
 * command line still wins.
 */
import assert from "node:assert/strict";
import { runCli } from "./_harness/cli.ts";
import { startTestServer, type TestServer } from "./_harness/ssh_server.ts";
import { freePort } from "./_harness/free_port.ts";

function config(knownHosts: string, user = "ann"): string {
  return `<secsh-broker version="1.0">
  <general>
    <known-hosts file="${knownHosts}"/>
  </general>
  <default-settings user="${user}">
    <server-authentication-methods>
      <auth-server-publickey policy="strict"/>
    </server-authentication-methods>
  </default-settings>
</secsh-broker>
`;
}

const key = (server: TestServer) => ["-B", "-i", server.clientKey, "-p", `${server.port}`];

Deno.test("cli: --config FILE that cannot be read or is wrong is exit 2 before connecting, for a host too", async () => {
  const dir = await Deno.makeTempDir({ prefix: "warren-config-host-" });
  try {
    const port = freePort(); // nothing listens: connecting first would say so
    const missing = await runCli(["-B", "--config", `${dir}/none.xml`, `me@127.0.0.1#${port}`]);
    assert.equal(missing.code, 2, missing.stderr);
    assert.equal(
      missing.stderr.trim(),
      `warren: Cannot read config file ${dir}/none.xml: no such file`,
    );
    await Deno.writeTextFile(`${dir}/broken.xml`, "<secsh-broker>\n  <general>\n</secsh-broker>\n");
    const broken = await runCli(["-B", "--config", `${dir}/broken.xml`, `me@127.0.0.1#${port}`]);
    assert.equal(broken.code, 2, broken.stderr);
    assert.match(broken.stderr.trim(), new RegExp(`^warren: ${dir}/broken\\.xml:\\d+:\\d+: `));
    assert.doesNotMatch(broken.stderr, /Cannot connect/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: --config FILE lends a host its default-settings and known-hosts; options win", async () => {
  await using server = await startTestServer();
  const file = `${server.dir}/broker.xml`;
  await Deno.writeTextFile(file, config(server.knownHosts));
  // The known hosts and the user come from the file (no UserKnownHostsFile, no -l).
  const r = await runCli(["-v", ...key(server), "--config", file, "127.0.0.1", "--", "true"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Authenticated to 127\.0\.0\.1:\d+ as ann$/m);
  // user@ on the command line wins.
  const bob = await runCli(["-v", ...key(server), "--config", file, "bob@127.0.0.1", "--", "true"]);
  assert.match(bob.stderr, /Authenticated to 127\.0\.0\.1:\d+ as bob$/m);

  // Another known_hosts file in the config, and its strict policy: refused, naming the file.
  const empty = `${server.dir}/empty_known_hosts`;
  await Deno.writeTextFile(empty, "");
  await Deno.writeTextFile(file, config(empty));
  const strict = await runCli([...key(server), "--config", file, "127.0.0.1", "--", "true"]);
  assert.equal(strict.code, 1, strict.stderr);
  assert.match(
    strict.stderr,
    new RegExp(`Host key for 127\\.0\\.0\\.1:\\d+ is not known \\(.*\\): add it to ${empty} or`),
  );
  // --hostkey-policy and UserKnownHostsFile on the command line win over the file.
  const over = await runCli([
    ...key(server),
    ...["--config", file, "-o", `UserKnownHostsFile=${server.knownHosts}`, "127.0.0.1"],
    ...["--", "true"],
  ]);
  assert.equal(over.code, 0, over.stderr);
  const tofu = await runCli([
    ...key(server),
    ...["--config", file, "--hostkey-policy=tofu", "127.0.0.1", "--", "true"],
  ]);
  assert.equal(tofu.code, 0, tofu.stderr);
  assert.match(await Deno.readTextFile(empty), /^\[127\.0\.0\.1\]:\d+ ssh-ed25519 /);
});
