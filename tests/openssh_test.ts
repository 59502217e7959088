/**
 * warren against a real OpenSSH sshd on a namespace host. The origins run
 * inside the namespace on its loopback, so only traffic that really crosses
 * SSH reaches them; curl and the OpenSSH tools are the clients.
 *
 * Needs root, iproute2 and openssh-server; otherwise ignored with one line
 * on stderr saying why (CI installs them, so there they always run).
 */
import assert from "node:assert/strict";
import { LiveCli, runCli } from "./_harness/cli.ts";
import { freePort } from "./_harness/free_port.ts";
import { startOrigin } from "./_harness/origin.ts";
import { patternBytes } from "./_harness/pattern.ts";
import { Buffer } from "node:buffer";
import { type Sshd, sshdSupport, startSshd } from "./_harness/sshd.ts";
import { roundTrip, testBytes } from "./_harness/local_servers.ts";
import { loadOpenSsl } from "../lib/ssh/crypto/openssl.ts";
import { skipWhen, unsupportedBy } from "./_harness/skip.ts";
import { startDelayRelay } from "./_harness/delay_relay.ts";

const support = sshdSupport();
// Loaded once here, not inside a test (the sanitizer counts a library loaded
// during a test as a leak); warren's own process loads it for itself.
const openssl = loadOpenSsl();
const ignore = skipWhen("real-peer tests", unsupportedBy(support));
const MiB = 1024 * 1024;

function auth(sshd: Sshd): string[] {
  return [
    "-i",
    sshd.clientKey,
    "-o",
    `UserKnownHostsFile=${sshd.knownHosts}`,
    "--hostkey-policy=strict",
    "-B",
    `${sshd.user}@${sshd.host}#${sshd.port}`,
  ];
}

async function curl(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command("curl", {
    args: ["-sS", "--max-time", "60", ...args],
    stdin: "null",
  }).output();
  const d = new TextDecoder();
  return { code: r.code, out: d.decode(r.stdout), err: d.decode(r.stderr) };
}

Deno.test(
  { name: "openssh: local tunnels carry HTTP, big downloads, IPv6 and half-close", ignore },
  async (t) => {
    await using sshd = await startSshd();
    await using origin = await startOrigin({ netns: sshd.netns });
    const [web, web6, local, echo] = [freePort(), freePort(), freePort(), freePort()];
    await using cli = new LiveCli([
      ...["-L", `${web}:127.0.0.1:${origin.httpPort}`],
      ...["-L", `[::1]:${web6}:[::1]:${origin.httpPort}`],
      ...["-L", `127.0.0.1:${local}:localhost:${origin.httpPort}`],
      ...["-L", `${echo}:127.0.0.1:${origin.echoPort}`],
      ...auth(sshd),
    ]);
    await cli.waitFor(new RegExp(`Local tunnel -L 127\\.0\\.0\\.1:${echo}`));

    await t.step("the origin is unreachable except through SSH", async () => {
      await assert.rejects(Deno.connect({ hostname: sshd.netns.nsAddr, port: origin.httpPort }));
      const r = await curl([`http://127.0.0.1:${web}/hello`]);
      assert.equal(r.out, "hello from origin\n", r.err);
    });

    await t.step("64 MiB downloads byte for byte", async () => {
      const file = `${sshd.dir}/download.bin`;
      const r = await curl(["-o", file, `http://127.0.0.1:${web}/bytes/${64 * MiB}?seed=5`]);
      assert.equal(r.code, 0, r.err);
      const data = await Deno.readFile(file);
      assert.equal(data.length, 64 * MiB);
      assert.equal(
        Buffer.compare(data, patternBytes(64 * MiB, 5)),
        0,
        "bytes differ from the origin's",
      );
      await Deno.remove(file);
    });

    await t.step("20 parallel connections", async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          curl([
            "-o",
            `${sshd.dir}/p${i}.bin`,
            `http://127.0.0.1:${web}/bytes/${MiB + i}?seed=${i + 1}`,
          ])),
      );
      for (const [i, r] of results.entries()) {
        assert.equal(r.code, 0, r.err);
        const data = await Deno.readFile(`${sshd.dir}/p${i}.bin`);
        assert.equal(
          Buffer.compare(data, patternBytes(MiB + i, i + 1)),
          0,
          `download ${i} differs`,
        );
      }
    });

    await t.step("IPv6 listen and destination addresses in brackets", async () => {
      const r = await curl(["-g", `http://[::1]:${web6}/hello`]);
      assert.equal(r.out, "hello from origin\n", r.err);
    });

    await t.step("dst 'localhost' is resolved at the server end", async () => {
      const r = await curl([`http://127.0.0.1:${local}/hello`]);
      assert.equal(r.out, "hello from origin\n", r.err);
    });

    await t.step("half-close: the echo answers after our EOF", async () => {
      const data = testBytes(4 * MiB, 9);
      assert.deepEqual(await roundTrip(echo, data), data);
    });

    await t.step("sshd saw direct-tcpip for each target and no session channel", async () => {
      const log = await sshd.log();
      const target = (host: string) =>
        new RegExp(
          `server_request_direct_tcpip: originator [\\d.:]+ port \\d+, target ${host} port ${origin.httpPort}`,
        );
      assert.match(log, target("127\\.0\\.0\\.1"));
      assert.match(log, target("localhost"));
      assert.match(log, target("::1"));
      assert.doesNotMatch(log, /ctype session/);
    });

    assert.equal(await cli.stop("SIGTERM"), 0, cli.stderr);
  },
);

Deno.test({ name: "openssh: remote tunnels, port 0 and refusals", ignore }, async (t) => {
  await using sshd = await startSshd();
  await using inner = await startOrigin({ netns: sshd.netns });
  await using here = await startOrigin(); // on this host's loopback
  const fetchInside = async (port: number) => {
    const out = await sshd.netns.command("curl", [
      "-sS",
      "--max-time",
      "20",
      `http://127.0.0.1:${port}/hello`,
    ], {
      stdout: "piped",
      stderr: "piped",
    }).output();
    return new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  };

  await t.step("-R 0 prints the server's port and connects back here", async () => {
    await using cli = new LiveCli(["-R", `0:127.0.0.1:${here.httpPort}`, ...auth(sshd)]);
    const m = await cli.waitFor(/the server assigned port (\d+)/);
    assert.equal(await fetchInside(Number(m[1])), "hello from origin\n");
    assert.equal(await cli.stop(), 0, cli.stderr);
  });

  await t.step("a remote port the server cannot bind is one error line", async () => {
    const taken = inner.httpPort; // in use on the namespace's loopback
    await using cli = new LiveCli([
      ...["-R", `${taken}:127.0.0.1:${here.httpPort}`],
      ...["-R", `0:127.0.0.1:${here.httpPort}`],
      ...auth(sshd),
    ]);
    const m = await cli.waitFor(/the server assigned port (\d+)/);
    await cli.waitFor(/error: Server refused to listen on localhost:\d+/);
    assert.equal(await fetchInside(Number(m[1])), "hello from origin\n");
    assert.equal(await cli.stop(), 0, cli.stderr);
  });

  await t.step("with --abort-on-failing-tunnel the refusal exits 1", async () => {
    const r = await runCli([
      "--abort-on-failing-tunnel",
      ...["-R", `${inner.httpPort}:127.0.0.1:${here.httpPort}`],
      ...auth(sshd),
      "--",
      "true",
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`Server refused to listen on localhost:${inner.httpPort}`));
  });
});

Deno.test(
  { name: "openssh: agent and key authentication, host key policies", ignore },
  async (t) => {
    await using sshd = await startSshd();
    const home = `${sshd.dir}/home`;
    await Deno.mkdir(`${home}/.ssh`, { recursive: true });

    await t.step("ssh-agent: the key comes from SSH_AUTH_SOCK", async () => {
      const sock = `${sshd.dir}/agent.sock`;
      const agent = new Deno.Command("ssh-agent", {
        args: ["-D", "-a", sock],
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        for (let i = 0; i < 100 && !(await Deno.stat(sock).then(() => true, () => false)); i++) {
          await new Promise((r) => setTimeout(r, 50));
        }
        const add = await new Deno.Command("ssh-add", {
          args: [sshd.clientKey],
          env: { SSH_AUTH_SOCK: sock },
          stderr: "null",
        })
          .output();
        assert.equal(add.code, 0);
        const args = auth(sshd).filter((a, i, all) =>
          a !== sshd.clientKey && all[i + 1] !== sshd.clientKey
        );
        const r = await runCli([...args, "--", "true"], {
          env: { SSH_AUTH_SOCK: sock, HOME: home },
        });
        assert.equal(r.code, 0, r.stderr);
      } finally {
        agent.kill("SIGTERM");
        await agent.status;
      }
    });

    await t.step(
      "an encrypted key without a terminal is skipped, and the failure says what was tried",
      async () => {
        const args = auth(sshd).map((a) => a === sshd.clientKey ? sshd.clientKeyEncrypted : a);
        const r = await runCli([...args, "--", "true"], { env: { HOME: home, SSH_AUTH_SOCK: "" } });
        assert.equal(r.code, 1);
        assert.match(r.stderr, /is encrypted and there is no terminal/);
        assert.match(
          r.stderr,
          /Cannot authenticate as \S+ to \S+: tried no usable method; the server accepts publickey$/m,
        );
      },
    );

    await t.step("tofu stores the real server's key; strict then accepts it", async () => {
      const kh = `${home}/.ssh/known_hosts`;
      const base = [
        "-i",
        sshd.clientKey,
        "-o",
        `UserKnownHostsFile=${kh}`,
        `${sshd.user}@${sshd.host}#${sshd.port}`,
      ];
      const strict1 = await runCli(["--hostkey-policy=strict", ...base, "--", "true"]);
      assert.equal(strict1.code, 1);
      assert.match(strict1.stderr, /is not known/);
      const tofu = await runCli(["--hostkey-policy=tofu", ...base, "--", "true"]);
      assert.equal(tofu.code, 0, tofu.stderr);
      assert.ok(
        (await Deno.readTextFile(kh)).includes(sshd.hostKeyLine.split(" ").slice(1, 3).join(" ")),
      );
      const strict2 = await runCli(["--hostkey-policy=strict", ...base, "--", "true"]);
      assert.equal(strict2.code, 0, strict2.stderr);
    });
  },
);

Deno.test(
  {
    name: "openssh: every AEAD cipher, with libcrypto and with the builtin path, re-keying",
    ignore,
  },
  async (t) => {
    // sshd re-keys every 2 MiB: each 8 MiB transfer below crosses several.
    await using sshd = await startSshd({ extraConfig: ["RekeyLimit 2M"] });
    await using origin = await startOrigin({ netns: sshd.netns });
    const modes = [{ mode: "builtin", by: /sealed by node:crypto/ }];
    if (openssl.ok) modes.push({ mode: "openssl", by: /sealed by libcrypto/ });
    else console.error(`openssh_test: WARREN_CRYPTO=openssl not tested: ${openssl.reason}`);
    const ciphers = [
      "aes128-gcm@openssh.com",
      "aes256-gcm@openssh.com",
      "chacha20-poly1305@openssh.com",
    ];
    for (const { mode, by } of modes) {
      for (const cipher of ciphers) {
        await t.step(`${cipher}, WARREN_CRYPTO=${mode}`, async () => {
          const port = freePort();
          await using cli = new LiveCli([
            "-v",
            ...["-o", `Ciphers=${cipher}`],
            ...["-L", `${port}:127.0.0.1:${origin.echoPort}`],
            ...auth(sshd),
          ], { env: { WARREN_CRYPTO: mode } });
          const line = await cli.waitFor(/Transport to \S+: (\S+) \/ (\S+), (.*)/);
          assert.deepEqual([line[1], line[2]], [cipher, cipher]);
          assert.match(line[3], by);
          await cli.waitFor(new RegExp(`Local tunnel -L 127\\.0\\.0\\.1:${port}`));
          const data = testBytes(8 * MiB + 3, 11);
          const back = await roundTrip(port, data);
          assert.equal(back.length, data.length, cli.stderr);
          assert.equal(Buffer.compare(back, data), 0);
        });
      }
    }
  },
);

Deno.test(
  { name: "openssh: WARREN_CHANNEL_WINDOW sets the window warren advertises", ignore },
  async () => {
    await using sshd = await startSshd();
    await using origin = await startOrigin({ netns: sshd.netns });
    for (const [value, bytes] of [["", 2 * MiB], ["8M", 8 * MiB], ["512K", 512 * 1024]] as const) {
      const port = freePort();
      await using cli = new LiveCli([
        ...["-L", `${port}:127.0.0.1:${origin.echoPort}`],
        ...auth(sshd),
      ], { env: { WARREN_CHANNEL_WINDOW: value } });
      await cli.waitFor(new RegExp(`Local tunnel -L 127\\.0\\.0\\.1:${port}`));
      const data = testBytes(24 * MiB + 5, 13);
      const back = await roundTrip(port, data);
      assert.equal(Buffer.compare(back, data), 0, `window ${value}`);
      // sshd (LogLevel DEBUG1) logs the window of each channel it is asked to open.
      const opens = [...(await sshd.log()).matchAll(/ctype direct-tcpip rchan \d+ win (\d+)/g)];
      assert.equal(Number(opens.at(-1)?.[1]), bytes, `window ${value}`);
    }
    const bad = await runCli(["-L", "1:a:1", ...auth(sshd)], {
      env: { WARREN_CHANNEL_WINDOW: "300M" },
    });
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /^warren: Invalid WARREN_CHANNEL_WINDOW '300M': must be between 64K and 256M$/m,
    );
  },
);

Deno.test(
  {
    name: "openssh: -o Ciphers/MACs/KexAlgorithms reach sshd; a failed match names its offer",
    ignore,
  },
  async (t) => {
    await using sshd = await startSshd({
      extraConfig: ["Ciphers aes256-ctr", "MACs hmac-sha2-256", "KexAlgorithms ecdh-sha2-nistp256"],
    });
    await t.step("lists that include the server's choice connect", async () => {
      const port = freePort();
      await using cli = new LiveCli([
        "-v",
        ...["-o", "Ciphers=+aes256-ctr", "-o", "MACs=hmac-sha2-256"],
        ...["-o", "KexAlgorithms=^ecdh-sha2-nistp256", "-o", "HostKeyAlgorithms=ssh-ed25519"],
        ...["-L", `${port}:127.0.0.1:9`],
        ...auth(sshd),
      ]);
      const line = await cli.waitFor(/Transport to \S+: (\S+) \+ (\S+) \/ ([^,\s]+)/);
      assert.deepEqual([line[1], line[2], line[3]], ["aes256-ctr", "hmac-sha2-256", "aes256-ctr"]);
    });
    for (
      const [option, offer] of [
        [
          "Ciphers=aes128-ctr",
          /no matching C->S cipher; the server offers aes256-ctr \(choose with -o Ciphers=\)/,
        ],
        [
          "MACs=-hmac-sha2-256*",
          /no matching C->S MAC; the server offers hmac-sha2-256 \(choose with -o MACs=\)/,
        ],
        [
          "KexAlgorithms=curve25519-sha256",
          /no matching key exchange algorithm; the server offers ecdh-sha2-nistp256/,
        ],
      ] as const
    ) {
      await t.step(`-o ${option}: one line with the server's offer, exit 1`, async () => {
        const r = await runCli(["-o", option, "-N", ...auth(sshd)]);
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, offer);
        assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      });
    }
    await t.step("-D 3 adds the SSH protocol detail: the lists the server sent", async () => {
      const r = await runCli(["-D", "3", "-o", "Ciphers=aes128-ctr", "-N", ...auth(sshd)]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /Handshake: \(remote\) C->S cipher: aes256-ctr/);
    });
  },
);

Deno.test(
  { name: "openssh: on a 50 ms link the window grows past 2 MiB, and every byte arrives", ignore },
  async () => {
    await using sshd = await startSshd();
    await using origin = await startOrigin({ netns: sshd.netns });
    await using relay = startDelayRelay({ hostname: sshd.host, port: sshd.port }, 25);
    const knownHosts = `${sshd.dir}/known_hosts_relay`;
    const key = sshd.hostKeyLine.split(" ").slice(1).join(" ");
    await Deno.writeTextFile(knownHosts, `[127.0.0.1]:${relay.port} ${key}\n`);
    const port = freePort();
    await using cli = new LiveCli([
      "-v",
      ...["-L", `${port}:127.0.0.1:${origin.httpPort}`],
      ...["-i", sshd.clientKey, "-o", `UserKnownHostsFile=${knownHosts}`],
      ...["--hostkey-policy=strict", "-B", `${sshd.user}@127.0.0.1#${relay.port}`],
    ]);
    await cli.waitFor(new RegExp(`Local tunnel -L 127\\.0\\.0\\.1:${port}`));
    // A download: only warren's window limits it (an upload would be held to
    // sshd's fixed 2 MiB, and an echo to the slower of the two).
    const file = `${sshd.dir}/download`;
    const r = await curl(["-o", file, `http://127.0.0.1:${port}/bytes/${64 * MiB}?seed=9`]);
    assert.equal(r.code, 0, r.err);
    assert.equal(Buffer.compare(await Deno.readFile(file), patternBytes(64 * MiB, 9)), 0);
    // Growth follows a round trip in which the sender used the whole window;
    // on a link this long the first goes straight to the channel's share of
    // the connection's growth (how far later ones go depends on how fast curl
    // writes the file here).
    const grown = await cli.waitFor(/window grown to (\d+) KiB/);
    assert.ok(Number(grown[1]) > 2048, grown[0]);
  },
);
