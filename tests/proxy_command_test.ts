/**
 * -o ProxyCommand with real commands: netcat-openbsd's `nc -X connect`
 * through a real HTTP proxy (tinyproxy) to an sshd that only the proxy
 * reaches; OpenSSH's `ssh -W %h:%p jump` to a server only the jump host
 * reaches, whose loss mid-run is reported in one line; and a command that
 * exits at once, whose stderr reaches the user.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { LiveCli, runCli } from "./_harness/cli.ts";
import { isolatedEnv } from "./_harness/broker_rig.ts";
import { freePort, randomPort } from "./_harness/free_port.ts";
import { loginsFrom, startJumpChain } from "./_harness/jump_chain.ts";
import { startOrigin } from "./_harness/origin.ts";
import { patternBytes } from "./_harness/pattern.ts";
import { missingTool, NC, startTinyproxy, TINYPROXY } from "./_harness/proxies.ts";
import { realPeersUnsupported } from "./_harness/real_peers.ts";
import { skipWhen } from "./_harness/skip.ts";
import { startSshd } from "./_harness/sshd.ts";

const peers = realPeersUnsupported("curl");
const ignoreNc = skipWhen(
  "ProxyCommand through nc and tinyproxy",
  peers ?? missingTool(NC, "netcat-openbsd") ?? missingTool(TINYPROXY, "tinyproxy"),
);
const ignoreSsh = skipWhen(
  "ProxyCommand ssh -W",
  peers ?? missingTool("/usr/bin/ssh", "openssh-client"),
);

const MiB = 1024 * 1024;

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

Deno.test({ name: "ProxyCommand: nc -X connect through tinyproxy", ignore: ignoreNc }, async () => {
  const innerPort = randomPort();
  await using sshd = await startSshd({ extraConfig: [`ListenAddress 127.0.0.1:${innerPort}`] });
  await using origin = await startOrigin({ netns: sshd.netns, files: sshd.dir });
  await using proxy = await startTinyproxy(sshd.netns, sshd.dir, { connectPorts: [innerPort] });
  const blob = patternBytes(2 * MiB, 7);
  await Deno.writeFile(`${sshd.dir}/blob`, blob);
  const knownHosts = `${sshd.dir}/known_hosts_inner`;
  const hostKey = sshd.hostKeyLine.split(" ").slice(1).join(" ");
  await Deno.writeTextFile(knownHosts, `[127.0.0.1]:${innerPort} ${hostKey}\n`);
  const port = freePort();
  const out = `${sshd.dir}/download`;
  const r = await runCli([
    ...["-i", sshd.clientKey, "-o", `UserKnownHostsFile=${knownHosts}`],
    ...["-o", "StrictHostKeyChecking=yes", "-B"],
    ...["-o", `ProxyCommand=nc -X connect -x ${proxy.host}:${proxy.port} %h %p`],
    ...["-L", `${port}:127.0.0.1:${origin.httpPort}`],
    `${sshd.user}@127.0.0.1#${innerPort}`,
    ...["--", "curl", "-sS", "--max-time", "60", "-o", out, `http://127.0.0.1:${port}/files/blob`],
  ], { env: isolatedEnv(sshd.dir), timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(Buffer.compare(await Deno.readFile(out), blob) === 0, "the bytes differ");
  assert.match(proxy.output(), new RegExp(`CONNECT.*127\\.0\\.0\\.1:${innerPort}`));
  assert.equal(await loginsFrom(sshd, "127.0.0.1"), 1, "the login came from the proxy");
});

Deno.test({
  name: "ProxyCommand: ssh -W %h:%p jump; its exit is the connection's loss",
  ignore: ignoreSsh,
}, async (t) => {
  await using chain = await startJumpChain(2);
  const [a, b] = chain.sshds;
  const blob = patternBytes(2 * MiB, 9);
  await Deno.writeFile(`${chain.dir}/files/blob`, blob);
  const ssh = [
    "ssh -F /dev/null",
    `-i ${a.clientKey} -o UserKnownHostsFile=${chain.knownHosts}`,
    "-o StrictHostKeyChecking=yes -o BatchMode=yes",
    `-p ${a.port} -W %h:%p ${a.user}@${a.host}`,
  ].join(" ");
  const args = (...extra: string[]) => [
    ...chain.keys.flatMap((k) => ["-i", k]),
    ...["-o", `UserKnownHostsFile=${chain.knownHosts}`, "-o", "StrictHostKeyChecking=yes", "-B"],
    ...["-o", `ProxyCommand=${ssh}`],
    ...extra,
    `${b.user}@${b.host}#${b.port}`,
  ];
  const env = isolatedEnv(chain.dir);

  await t.step("a download through the jump, identical", async () => {
    const port = freePort();
    const out = `${chain.dir}/download`;
    const r = await runCli([
      ...args("-L", `${port}:127.0.0.1:${chain.origins[1]!.httpPort}`),
      ...[
        "--",
        "curl",
        "-sS",
        "--max-time",
        "60",
        "-o",
        out,
        `http://127.0.0.1:${port}/files/blob`,
      ],
    ], { env, timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Buffer.compare(await Deno.readFile(out), blob) === 0, "the bytes differ");
    assert.equal(await loginsFrom(b, chain.fromAddrs[0]), 1, "b was reached from a");
  });

  await t.step("the jump host goes away: one line says the proxy command exited", async () => {
    const port = freePort();
    await using warren = new LiveCli(
      [...args("-L", `${port}:127.0.0.1:${chain.origins[1]!.httpPort}`)],
      { env },
    );
    await warren.waitFor(/Local tunnel -L/);
    await a.stop();
    assert.equal(await warren.exit(20_000), 1, warren.stderr);
    const errors = warren.stderr.split("\n").filter((l) => l.startsWith("warren: error: "));
    assert.equal(errors.length, 1, warren.stderr);
    assert.match(
      errors[0],
      new RegExp(
        `^warren: error: Connection to ${escape(b.host)}:${b.port} lost: ` +
          `proxy command 'ssh -F /dev/null .* -W ${
            escape(b.host)
          }:${b.port} .*' exited with status 255$`,
      ),
    );
  });
});

Deno.test("ProxyCommand: a command that exits at once; its stderr reaches the user", async () => {
  const r = await runCli([
    "-B",
    "-o",
    "ProxyCommand=sh -c 'echo proxy says no to %h:%p as %r, 100%% >&2; exit 3'",
    "ann@nowhere.invalid",
  ], { timeoutMs: 30_000 });
  assert.equal(r.code, 1, r.stderr);
  assert.equal(
    r.stderr,
    "proxy says no to nowhere.invalid:22 as ann, 100%\n" +
      "warren: Cannot connect to nowhere.invalid:22: proxy command " +
      "'sh -c 'echo proxy says no to nowhere.invalid:22 as ann, 100% >&2; exit 3'' " +
      "exited with status 3\n",
  );
});
