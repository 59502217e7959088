/**
 * ~/.ssh/config and -F FILE: `warren -G` against OpenSSH's `ssh -G` for the
 * keywords both print (Host aliases, wildcards, negation, Include, forwards,
 * a Match block skipped), and a real run whose target, jump host, keys and
 * forward all come from ~/.ssh/config with an Include relative to ~/.ssh.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { runCli } from "./_harness/cli.ts";
import { isolatedEnv } from "./_harness/broker_rig.ts";
import { freePort } from "./_harness/free_port.ts";
import { runProc } from "./_harness/live_proc.ts";
import { loginsFrom, startJumpChain } from "./_harness/jump_chain.ts";
import { patternBytes } from "./_harness/pattern.ts";
import { missingTool } from "./_harness/proxies.ts";
import { realPeersUnsupported } from "./_harness/real_peers.ts";
import { skipWhen } from "./_harness/skip.ts";

const SSH = "/usr/bin/ssh";
const ignoreSsh = skipWhen("ssh -G comparison", missingTool(SSH, "openssh-client"));
const ignorePeers = skipWhen("ssh_config with real peers", realPeersUnsupported("curl"));

/** The keywords both print; the first four may repeat. */
const COMPARED = [
  "identityfile",
  "localforward",
  "remoteforward",
  "dynamicforward",
  "user",
  "hostname",
  "port",
  "batchmode",
  "compression",
  "gatewayports",
  "identitiesonly",
  "ciphers",
  "connecttimeout",
  "proxyjump",
  "proxycommand",
  "stricthostkeychecking",
  "serveralivecountmax",
  "serveraliveinterval",
  "exitonforwardfailure",
  "userknownhostsfile",
];

/** keyword -> its values, in order, for the compared keywords. */
function settings(output: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const line of output.split("\n")) {
    const m = /^(\S+) (.*)$/.exec(line);
    if (!m || !COMPARED.includes(m[1])) continue;
    (out[m[1]] ??= []).push(m[2]);
  }
  return out;
}

Deno.test({ name: "warren -G prints what ssh -G prints", ignore: ignoreSsh }, async () => {
  const dir = await Deno.makeTempDir({ prefix: "warren-ssh-g-" });
  try {
    await Deno.mkdir(`${dir}/conf.d`);
    const config = `${dir}/config`;
    await Deno.writeTextFile(
      config,
      [
        `Include ${dir}/conf.d/*.conf`,
        "Host web* !web-old *.corp",
        "  HostName %h.example.com",
        "  User deploy",
        "  Port 2222",
        `  IdentityFile ${dir}/web_key`,
        "  LocalForward 8080 localhost:80",
        "  LocalForward 127.0.0.1:8443 [::1]:443",
        "  RemoteForward 9000 localhost:3000",
        "  DynamicForward 1080",
        "  ServerAliveInterval 15",
        "  StrictHostKeyChecking accept-new",
        "  ConnectTimeout 7",
        "  ExitOnForwardFailure yes",
        "  GatewayPorts yes",
        "  Ciphers aes256-gcm@openssh.com,aes128-ctr",
        "  IdentitiesOnly yes",
        "  Compression yes",
        "  ProxyJump ops@bastion:2200",
        "Match user nobody",
        "  Port 1",
        "Host *",
        "  User fallback",
        "  Port 22",
        `  IdentityFile ${dir}/default_key`,
        `  UserKnownHostsFile ${dir}/known_hosts`,
        "  StrictHostKeyChecking yes",
        "  ServerAliveInterval 60",
        "  ServerAliveCountMax 5",
        "  ConnectTimeout 20",
        "  BatchMode yes",
        "  GatewayPorts no",
        "  IdentitiesOnly no",
        "  ExitOnForwardFailure no",
        "  Ciphers aes128-ctr,aes256-ctr",
        "",
      ].join("\n"),
    );
    await Deno.writeTextFile(
      `${dir}/conf.d/db.conf`,
      "Host db\n  HostName 10.1.2.3\n  ProxyCommand nc -X connect -x proxy:3128 %h %p\n",
    );
    for (const host of ["web1", "web-old", "x.corp", "db", "other"]) {
      const ssh = await runProc(SSH, ["-F", config, "-G", host]);
      assert.equal(ssh.code, 0, ssh.stderr);
      const warren = await runCli(["-F", config, "-G", host], { env: isolatedEnv(dir) });
      assert.equal(warren.code, 0, warren.stderr);
      assert.equal(
        warren.stderr,
        `warren: warning: ${config}:20: Match blocks are not supported: skipped\n`,
      );
      const expected = settings(ssh.stdout);
      assert.ok(Object.keys(expected).length >= 14, `ssh -G printed too little: ${ssh.stdout}`);
      assert.deepEqual(settings(warren.stdout), expected, host);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  {
    name: "~/.ssh/config: an alias, its jump host, keys and forward, with an Include",
    ignore: ignorePeers,
  },
  async () => {
    await using chain = await startJumpChain(2);
    const [a, b] = chain.sshds;
    const blob = patternBytes(1024 * 1024, 5);
    await Deno.writeFile(`${chain.dir}/files/blob`, blob);
    const home = `${chain.dir}/home`;
    await Deno.mkdir(`${home}/.ssh/conf.d`, { recursive: true });
    const port = freePort();
    await Deno.writeTextFile(
      `${home}/.ssh/config`,
      [
        "Include conf.d/*.conf",
        "Host inner",
        `  HostName ${b.host}`,
        `  Port ${b.port}`,
        `  User ${b.user}`,
        "  ProxyJump hop",
        `  LocalForward ${port} 127.0.0.1:${chain.origins[1]!.httpPort}`,
        "Host *",
        ...chain.keys.map((k) => `  IdentityFile ${k}`),
        `  UserKnownHostsFile ${chain.knownHosts}`,
        "  StrictHostKeyChecking yes",
        "  BatchMode yes",
        "",
      ].join("\n"),
    );
    await Deno.writeTextFile(
      `${home}/.ssh/conf.d/hop.conf`,
      `Host hop\n  HostName ${a.host}\n  Port ${a.port}\n  User ${a.user}\n`,
    );
    const out = `${chain.dir}/download`;
    const r = await runCli(
      [
        "inner",
        ...["--", "curl", "-sS", "--max-time", "60", "-o", out],
        `http://127.0.0.1:${port}/files/blob`,
      ],
      { env: isolatedEnv(home), timeoutMs: 60_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Buffer.compare(await Deno.readFile(out), blob) === 0, "the bytes differ");
    assert.equal(await loginsFrom(b, chain.fromAddrs[0]), 1, "inner was reached through hop");
  },
);
