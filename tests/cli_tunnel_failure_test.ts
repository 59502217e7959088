/**
 * Tunnels that cannot be opened, as a user meets them: in `--` mode the
 * command never runs without its tunnels, and a client left with no tunnel
 * and nothing else to do exits 1 with one line instead of sitting there.
 */
import assert from "node:assert/strict";
import { runCli } from "./_harness/cli.ts";
import { startTestServer, type TestServer } from "./_harness/ssh_server.ts";

function base(server: TestServer, ...extra: string[]): string[] {
  return [
    ...["-B", "-i", server.clientKey, "-o", `UserKnownHostsFile=${server.knownHosts}`],
    ...["--hostkey-policy=strict", "-p", `${server.port}`],
    ...extra,
  ];
}

function oneLine(stderr: string): string {
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
  return lines[0];
}

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

Deno.test("cli: in -- mode a local tunnel that cannot listen stops the command from running", async () => {
  await using server = await startTestServer();
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  using other = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const marker = `${server.dir}/command-ran`;
  const free = other.addr.port;
  other.close(); // a second tunnel that does listen: one failure is enough
  const r = await runCli([
    ...base(server, "-L", `127.0.0.1:${taken.addr.port}:127.0.0.1:9`),
    ...["-L", `127.0.0.1:${free}:127.0.0.1:9`, "127.0.0.1"],
    ...["--", "touch", marker],
  ]);
  assert.equal(r.code, 1, r.stderr);
  // The tunnel that opened says so; the failure is the one other line.
  assert.equal(
    oneLine(r.stderr.replace(/^warren: Local tunnel -L .*\n/m, "")),
    `warren: Cannot listen on 127.0.0.1:${taken.addr.port}: address already in use`,
  );
  assert.equal(await exists(marker), false, "the command ran without its tunnel");
  // The tunnel that did open was closed again.
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: free }));
});

Deno.test("cli: in -- mode a remote tunnel the server refuses stops the command from running", async () => {
  await using server = await startTestServer({ refuseForward: true });
  const marker = `${server.dir}/command-ran`;
  const r = await runCli([
    ...base(server, "-R", "8080:127.0.0.1:9", "127.0.0.1"),
    "--",
    "touch",
    marker,
  ]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(oneLine(r.stderr), /^warren: Server refused to listen on localhost:8080: /);
  assert.equal(await exists(marker), false, "the command ran without its tunnel");
});

Deno.test("cli: with every tunnel failed and no command, warren exits 1 with one line", async () => {
  await using server = await startTestServer();
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = taken.addr.port;
  // A hang is the failure here: the run is killed after 20 s and the code checked.
  const one = await runCli(base(server, "-L", `127.0.0.1:${port}:127.0.0.1:9`, "127.0.0.1"), {
    timeoutMs: 20_000,
  });
  assert.equal(one.code, 1, one.stderr);
  assert.equal(
    oneLine(one.stderr),
    `warren: Cannot listen on 127.0.0.1:${port}: address already in use`,
  );

  const two = await runCli(
    base(
      server,
      ...["-L", `127.0.0.1:${port}:127.0.0.1:9`, "-L", `socks/127.0.0.1:${port}`, "127.0.0.1"],
    ),
    { timeoutMs: 20_000 },
  );
  assert.equal(two.code, 1, two.stderr);
  assert.equal(
    oneLine(two.stderr),
    `warren: No tunnel could be opened: Cannot listen on 127.0.0.1:${port}: address already in ` +
      `use; Cannot listen on 127.0.0.1:${port}: address already in use`,
  );

  const background = await runCli(
    base(server, "-f", "-L", `127.0.0.1:${port}:127.0.0.1:9`, "127.0.0.1"),
    { timeoutMs: 20_000 },
  );
  assert.equal(background.code, 1, background.stderr);
  assert.equal(background.stdout, "", "a PID was printed for a process with nothing to do");
  assert.match(background.stderr, /Cannot listen on 127\.0\.0\.1:\d+: address already in use/);
});
