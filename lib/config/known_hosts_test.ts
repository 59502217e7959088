import assert from "node:assert/strict";
import {
  appendKnownHost,
  entryMatchesHost,
  fingerprintSha256,
  formatKnownHostsLine,
  hostToken,
  keyTypeOfBlob,
  type KnownHostEntry,
  loadKnownHosts,
  lookupHostKey,
  parseKnownHosts,
} from "./known_hosts.ts";
import {
  blob,
  EC_A,
  EC_A_FP,
  ED_A,
  ED_A_FP,
  ED_B,
  ED_B_FP,
  ED_C,
  HAVE_SSH_KEYGEN,
  sshKeygen,
} from "./_known_hosts_fixtures.ts";

const NEEDS_KEYGEN = "(needs ssh-keygen)";

/** One plain entry with the given host field. */
function entry(hosts: string, key = ED_A): KnownHostEntry {
  const [parsed] = parseKnownHosts(`${hosts} ssh-ed25519 ${key}`, "kh");
  assert.ok(parsed, `fixture line for ${hosts} did not parse`);
  return parsed;
}

function matches(hosts: string, host: string, port = 22): boolean {
  return entryMatchesHost(entry(hosts), host, port);
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "warren_known_hosts_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("parseKnownHosts() reads markers, fields, comments and line numbers", () => {
  const text = [
    `example.com,10.0.0.1 ssh-ed25519 ${ED_A} alice@laptop  2024`,
    `@revoked * ssh-ed25519 ${ED_B}`,
    `\t@cert-authority *.example.com ecdsa-sha2-nistp256 ${EC_A}\r`,
  ].join("\n");
  assert.deepEqual(parseKnownHosts(text, "/k"), [
    {
      hosts: "example.com,10.0.0.1",
      keyType: "ssh-ed25519",
      keyBase64: ED_A,
      comment: "alice@laptop 2024",
      file: "/k",
      line: 1,
    },
    {
      marker: "revoked",
      hosts: "*",
      keyType: "ssh-ed25519",
      keyBase64: ED_B,
      file: "/k",
      line: 2,
    },
    {
      marker: "cert-authority",
      hosts: "*.example.com",
      keyType: "ecdsa-sha2-nistp256",
      keyBase64: EC_A,
      file: "/k",
      line: 3,
    },
  ]);
});

Deno.test("parseKnownHosts() skips blanks, comments and malformed lines", () => {
  const text = [
    "",
    "   ",
    "# a comment",
    `  # indented comment ssh-ed25519 ${ED_A}`,
    `@bogus host ssh-ed25519 ${ED_A}`, // unknown marker
    `@revoked ssh-ed25519 ${ED_A}`, // marker without host field
    "host ssh-ed25519", // no key
    "host",
    `host ssh-ed25519 ${ED_A.slice(0, 20)}!!`, // not base64
    `host ssh-rsa ${ED_A}`, // type field differs from the blob
    `host ecdsa-sha2-nistp256 ${ED_A.slice(0, 8)}`, // truncated blob
    "host 2048 65537 1234567890", // SSH1 RSA key
    `good ssh-ed25519 ${ED_A}`,
  ].join("\n");
  const entries = parseKnownHosts(text, "kh");
  assert.deepEqual(entries.map((e) => [e.hosts, e.line]), [["good", 13]]);
});

Deno.test("hostToken() uses the bare host on port 22 and [host]:port otherwise", () => {
  assert.equal(hostToken("example.com", 22), "example.com");
  assert.equal(hostToken("Example.COM", 2222), "[example.com]:2222");
  assert.equal(hostToken("10.0.0.1", 443), "[10.0.0.1]:443");
  assert.equal(hostToken("::1", 22), "::1");
  assert.equal(hostToken("::1", 2222), "[::1]:2222");
  assert.equal(hostToken("[fe80::1]", 2222), "[fe80::1]:2222");
  assert.equal(hostToken("[fe80::1]", 22), "fe80::1");
});

Deno.test("entryMatchesHost() matches a plain name case-insensitively", () => {
  assert.equal(matches("example.com", "example.com"), true);
  assert.equal(matches("Example.com", "EXAMPLE.com"), true);
  assert.equal(matches("example.com", "example.org"), false);
  assert.equal(matches("example.com", "www.example.com"), false);
  assert.equal(matches("example.com", "example.com", 2222), false);
});

Deno.test("entryMatchesHost() matches any name in a comma list", () => {
  const hosts = "alpha,beta.example.com,10.1.2.3";
  assert.equal(matches(hosts, "alpha"), true);
  assert.equal(matches(hosts, "beta.example.com"), true);
  assert.equal(matches(hosts, "10.1.2.3"), true);
  assert.equal(matches(hosts, "gamma"), false);
  assert.equal(matches(hosts, "alpha,beta.example.com"), false);
});

Deno.test("entryMatchesHost() matches the [host]:port form only on that port", () => {
  assert.equal(matches("[example.com]:2222", "example.com", 2222), true);
  assert.equal(matches("[example.com]:2222", "example.com", 22), false);
  assert.equal(matches("[example.com]:2222", "example.com", 2223), false);
  assert.equal(matches("[example.com]:22", "example.com", 22), false);
  assert.equal(matches("a,[b]:2200", "b", 2200), true);
});

Deno.test("entryMatchesHost() matches IPv6 addresses bare and in brackets", () => {
  assert.equal(matches("::1", "::1"), true);
  assert.equal(matches("[::1]:2222", "::1", 2222), true);
  assert.equal(matches("[::1]:2222", "[::1]", 2222), true);
  assert.equal(matches("[::1]:2222", "::1", 22), false);
  assert.equal(matches("fe80::1,[::1]:2222", "FE80::1"), true);
});

Deno.test("entryMatchesHost() supports * and ? wildcards", () => {
  assert.equal(matches("*.example.com", "a.example.com"), true);
  assert.equal(matches("*.example.com", "a.b.example.com"), true);
  assert.equal(matches("*.example.com", "example.com"), false);
  assert.equal(matches("*", "anything"), true);
  assert.equal(matches("*", "anything", 2222), true);
  assert.equal(matches("192.168.1.?", "192.168.1.7"), true);
  assert.equal(matches("192.168.1.?", "192.168.1.17"), false);
  assert.equal(matches("[*.example.com]:2222", "x.example.com", 2222), true);
  assert.equal(matches("[*.example.com]:2222", "x.example.com", 22), false);
  assert.equal(matches("[*.example.com]:*", "x.example.com", 8022), true);
  assert.equal(matches("a*b*c", "aXXbYYbZc"), true);
  assert.equal(matches("a*b*c", "aXXbYYbZ"), false);
});

Deno.test("entryMatchesHost() excludes the line on a negated match", () => {
  const hosts = "*.example.com,!bad.example.com";
  assert.equal(matches(hosts, "good.example.com"), true);
  assert.equal(matches(hosts, "bad.example.com"), false);
  assert.equal(matches("!bad.example.com,*.example.com", "bad.example.com"), false);
  assert.equal(matches("!bad.example.com", "other.example.com"), false);
  assert.equal(matches("*,!10.*", "10.0.0.1"), false);
  assert.equal(matches("*,!10.*", "192.168.0.1"), true);
});

Deno.test("entryMatchesHost() matches hashed lines from formatKnownHostsLine()", () => {
  const line = formatKnownHostsLine("Example.com", 2222, blob(ED_A), {
    hash: true,
  });
  assert.match(line, /^\|1\|[A-Za-z0-9+/]{27}=\|[A-Za-z0-9+/]{27}= ssh-ed25519 /);
  const [e] = parseKnownHosts(line, "kh");
  assert.equal(entryMatchesHost(e, "example.com", 2222), true);
  assert.equal(entryMatchesHost(e, "EXAMPLE.COM", 2222), true);
  assert.equal(entryMatchesHost(e, "example.com", 22), false);
  assert.equal(entryMatchesHost(e, "example.org", 2222), false);
  const again = formatKnownHostsLine("example.com", 2222, blob(ED_A), {
    hash: true,
  });
  assert.notEqual(again.split(" ")[0], line.split(" ")[0], "salt is random");
  assert.equal(matches("|1|bad|salt", "example.com"), false);
});

Deno.test({
  name: `entryMatchesHost() agrees with hashed lines written by ssh-keygen -H ${NEEDS_KEYGEN}`,
  ignore: !HAVE_SSH_KEYGEN,
  fn: () =>
    withTempDir(async (dir) => {
      const file = `${dir}/known_hosts`;
      await Deno.writeTextFile(
        file,
        `example.com,[10.0.0.1]:2222,[::1]:2200 ssh-ed25519 ${ED_A}\n`,
      );
      const { code } = await sshKeygen(["-H", "-f", file]);
      assert.equal(code, 0);
      const entries = parseKnownHosts(await Deno.readTextFile(file), file);
      assert.equal(entries.length, 3);
      assert.ok(entries.every((e) => e.hosts.startsWith("|1|")));
      const hits = (host: string, port: number) =>
        entries.filter((e) => entryMatchesHost(e, host, port)).map((e) => e.line);
      assert.deepEqual(hits("example.com", 22), [1]);
      assert.deepEqual(hits("10.0.0.1", 2222), [2]);
      assert.deepEqual(hits("::1", 2200), [3]);
      assert.deepEqual(hits("example.com", 2222), []);
      assert.deepEqual(hits("10.0.0.1", 22), []);
    }),
});

Deno.test({
  name: `formatKnownHostsLine() hashed lines are found by ssh-keygen -F ${NEEDS_KEYGEN}`,
  ignore: !HAVE_SSH_KEYGEN,
  fn: () =>
    withTempDir(async (dir) => {
      const file = `${dir}/known_hosts`;
      await Deno.writeTextFile(
        file,
        [
          formatKnownHostsLine("example.com", 22, blob(ED_A), { hash: true }),
          formatKnownHostsLine("::1", 2222, blob(ED_B), { hash: true }),
          "",
        ].join("\n"),
      );
      const found = async (query: string) =>
        (await sshKeygen(["-F", query, "-f", file])).stdout.match(
          /found: line (\d+)/g,
        ) ?? [];
      assert.deepEqual(await found("example.com"), ["found: line 1"]);
      assert.deepEqual(await found("[::1]:2222"), ["found: line 2"]);
      assert.deepEqual(await found("[example.com]:2222"), []);
    }),
});

Deno.test({
  name: `entryMatchesHost() agrees with ssh-keygen -F on patterns ${NEEDS_KEYGEN}`,
  ignore: !HAVE_SSH_KEYGEN,
  fn: () =>
    withTempDir(async (dir) => {
      const lines = [
        "*.example.org,!bad.example.org",
        "alpha,[beta]:2222,192.168.1.?",
        "[*.example.net]:*",
        "!gamma",
      ];
      const file = `${dir}/known_hosts`;
      await Deno.writeTextFile(
        file,
        lines.map((h) => `${h} ssh-ed25519 ${ED_A}\n`).join(""),
      );
      const entries = parseKnownHosts(await Deno.readTextFile(file), file);
      const queries: [string, number][] = [
        ["x.example.org", 22],
        ["bad.example.org", 22],
        ["alpha", 22],
        ["alpha", 2222],
        ["beta", 2222],
        ["beta", 22],
        ["192.168.1.5", 22],
        ["192.168.1.55", 22],
        ["a.example.net", 2022],
        ["a.example.net", 22],
        ["gamma", 22],
        ["delta", 22],
      ];
      for (const [host, port] of queries) {
        const ours = entries.filter((e) => entryMatchesHost(e, host, port))
          .map((e) => `found: line ${e.line}`);
        const { stdout } = await sshKeygen([
          "-F",
          hostToken(host, port),
          "-f",
          file,
        ]);
        const theirs = stdout.match(/found: line \d+/g) ?? [];
        assert.deepEqual(ours, theirs, `${host} port ${port}`);
      }
    }),
});

Deno.test("lookupHostKey() reports a match for a known key", () => {
  const entries = parseKnownHosts(
    [
      `other ssh-ed25519 ${ED_B}`,
      `[example.com]:2222 ssh-ed25519 ${ED_A}`,
    ].join("\n"),
    "kh",
  );
  const found = lookupHostKey(entries, "example.com", 2222, "ssh-ed25519", blob(ED_A));
  assert.equal(found.status, "match");
  assert.equal(found.status === "match" && found.entry.line, 2);
});

Deno.test("lookupHostKey() reports a match when another line has an old key", () => {
  const entries = parseKnownHosts(
    `example.com ssh-ed25519 ${ED_B}\nexample.com ssh-ed25519 ${ED_A}`,
    "kh",
  );
  const found = lookupHostKey(entries, "example.com", 22, "ssh-ed25519", blob(ED_A));
  assert.equal(found.status, "match");
});

Deno.test("lookupHostKey() reports a mismatch for a changed key", () => {
  const entries = parseKnownHosts(
    `example.com ssh-ed25519 ${ED_B}\nelsewhere ssh-ed25519 ${ED_A}`,
    "kh",
  );
  const found = lookupHostKey(entries, "example.com", 22, "ssh-ed25519", blob(ED_A));
  assert.equal(found.status, "mismatch");
  assert.deepEqual(found.status === "mismatch" && found.known.map((e) => e.line), [1]);
});

Deno.test("lookupHostKey() reports a mismatch for a key of another type, same type first", () => {
  const entries = parseKnownHosts(
    `example.com ecdsa-sha2-nistp256 ${EC_A}\nexample.com ssh-ed25519 ${ED_B}`,
    "kh",
  );
  const found = lookupHostKey(entries, "example.com", 22, "ssh-ed25519", blob(ED_A));
  assert.equal(found.status, "mismatch");
  assert.deepEqual(
    found.status === "mismatch" && found.known.map((e) => e.keyType),
    ["ssh-ed25519", "ecdsa-sha2-nistp256"],
  );
  const onlyOther = lookupHostKey(
    entries.slice(0, 1),
    "example.com",
    22,
    "ssh-ed25519",
    blob(ED_A),
  );
  assert.equal(onlyOther.status, "mismatch");
});

Deno.test("lookupHostKey() reports an unknown host", () => {
  const entries = parseKnownHosts(
    `example.com ssh-ed25519 ${ED_B}\n[example.org]:2222 ssh-ed25519 ${ED_A}`,
    "kh",
  );
  assert.deepEqual(lookupHostKey(entries, "example.org", 22, "ssh-ed25519", blob(ED_A)), {
    status: "unknown",
  });
  assert.deepEqual(lookupHostKey([], "example.org", 22, "ssh-ed25519", blob(ED_A)), {
    status: "unknown",
  });
});

Deno.test("lookupHostKey() reports a revoked key before a match", () => {
  const entries = parseKnownHosts(
    `example.com ssh-ed25519 ${ED_A}\n@revoked * ssh-ed25519 ${ED_A}`,
    "kh",
  );
  const found = lookupHostKey(entries, "example.com", 22, "ssh-ed25519", blob(ED_A));
  assert.equal(found.status, "revoked");
  assert.equal(found.status === "revoked" && found.entry.line, 2);
});

Deno.test("lookupHostKey() reports a revoked key whatever the host field of the @revoked line", () => {
  const entries = parseKnownHosts(`@revoked other.example ssh-ed25519 ${ED_A}`, "kh");
  const found = lookupHostKey(entries, "example.com", 2222, "ssh-ed25519", blob(ED_A));
  assert.equal(found.status, "revoked");
  const otherKey = lookupHostKey(entries, "example.com", 2222, "ssh-ed25519", blob(ED_B));
  assert.equal(otherKey.status, "unknown", "a @revoked line is not a known key");
});

Deno.test("lookupHostKey() ignores @cert-authority lines for plain keys", () => {
  const sameKey = parseKnownHosts(`@cert-authority * ssh-ed25519 ${ED_A}`, "kh");
  assert.equal(
    lookupHostKey(sameKey, "example.com", 22, "ssh-ed25519", blob(ED_A)).status,
    "unknown",
  );
  const otherKey = parseKnownHosts(`@cert-authority example.com ssh-ed25519 ${ED_B}`, "kh");
  assert.equal(
    lookupHostKey(otherKey, "example.com", 22, "ssh-ed25519", blob(ED_A)).status,
    "unknown",
  );
});

Deno.test("lookupHostKey() compares the key blob, not the announced algorithm", () => {
  const [e] = parseKnownHosts(`example.com ssh-ed25519 ${ED_B}`, "kh");
  const found = lookupHostKey([e], "example.com", 22, "rsa-sha2-512", blob(ED_B));
  assert.equal(found.status, "match");
});

Deno.test("fingerprintSha256() gives the ssh-keygen -l fingerprint of fixed keys", () => {
  assert.equal(fingerprintSha256(blob(ED_A)), ED_A_FP);
  assert.equal(fingerprintSha256(blob(ED_B)), ED_B_FP);
  assert.equal(fingerprintSha256(blob(EC_A)), EC_A_FP);
});

Deno.test({
  name: `fingerprintSha256() equals ssh-keygen -l -E sha256 for a generated key ${NEEDS_KEYGEN}`,
  ignore: !HAVE_SSH_KEYGEN,
  fn: () =>
    withTempDir(async (dir) => {
      for (const type of ["ed25519", "ecdsa", "rsa"]) {
        const key = `${dir}/id_${type}`;
        const args = ["-q", "-t", type, "-N", "", "-C", "test", "-f", key];
        if (type === "rsa") args.push("-b", "1024");
        assert.equal((await sshKeygen(args)).code, 0);
        const pub = (await Deno.readTextFile(`${key}.pub`)).split(" ");
        const listed = await sshKeygen(["-l", "-E", "sha256", "-f", `${key}.pub`]);
        assert.equal(listed.code, 0);
        const keyBlob = blob(pub[1]);
        assert.equal(fingerprintSha256(keyBlob), listed.stdout.split(" ")[1]);
        assert.equal(keyTypeOfBlob(keyBlob), pub[0]);
      }
    }),
});

Deno.test("keyTypeOfBlob() reads the key type and rejects a truncated blob", () => {
  assert.equal(keyTypeOfBlob(blob(ED_A)), "ssh-ed25519");
  assert.equal(keyTypeOfBlob(blob(EC_A)), "ecdsa-sha2-nistp256");
  assert.equal(keyTypeOfBlob(blob(ED_A).subarray(0, 15)), "ssh-ed25519");
  const offset = new Uint8Array(20);
  offset.set(blob(ED_A).subarray(0, 15), 5);
  assert.equal(keyTypeOfBlob(offset.subarray(5)), "ssh-ed25519");
  assert.throws(() => keyTypeOfBlob(new Uint8Array(3)), SyntaxError);
  assert.throws(() => keyTypeOfBlob(new Uint8Array(4)), SyntaxError);
  assert.throws(() => keyTypeOfBlob(blob(ED_A).subarray(0, 10)), /bad length/);
  assert.throws(() => keyTypeOfBlob(new Uint8Array([0, 0, 0, 2, 0x20, 0x41])), /printable/);
});

Deno.test("formatKnownHostsLine() output parses back to the same host and key", () => {
  const cases: [string, number, string, string][] = [
    ["example.com", 22, ED_A, `example.com ssh-ed25519 ${ED_A}`],
    ["example.com", 2222, ED_B, `[example.com]:2222 ssh-ed25519 ${ED_B}`],
    ["::1", 22, EC_A, `::1 ecdsa-sha2-nistp256 ${EC_A}`],
    ["::1", 2222, ED_C, `[::1]:2222 ssh-ed25519 ${ED_C}`],
  ];
  for (const [host, port, key, expected] of cases) {
    for (const hash of [false, true]) {
      const line = formatKnownHostsLine(host, port, blob(key), { hash });
      if (!hash) assert.equal(line, expected);
      const entries = parseKnownHosts(line, "kh");
      assert.equal(entries.length, 1, line);
      assert.equal(entries[0].keyBase64, key);
      assert.equal(entryMatchesHost(entries[0], host, port), true, line);
      assert.equal(entryMatchesHost(entries[0], host, port + 1), false, line);
      const found = lookupHostKey(entries, host, port, entries[0].keyType, blob(key));
      assert.equal(found.status, "match");
    }
  }
});

Deno.test("loadKnownHosts() reads files in order and skips missing ones", () =>
  withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/a`, `a ssh-ed25519 ${ED_A}\n`);
    await Deno.writeTextFile(`${dir}/b`, `# hi\nb ssh-ed25519 ${ED_B}\n`);
    await Deno.mkdir(`${dir}/dir`);
    const entries = await loadKnownHosts([
      `${dir}/missing`,
      `${dir}/b`,
      `${dir}/dir`,
      `${dir}/no/such/dir/file`,
      `${dir}/a`,
    ]);
    assert.deepEqual(entries.map((e) => [e.hosts, e.file, e.line]), [
      ["b", `${dir}/b`, 2],
      ["a", `${dir}/a`, 1],
    ]);
    assert.deepEqual(await loadKnownHosts([]), []);
  }));

Deno.test({
  name: "appendKnownHost() creates the directory and file with private modes",
  ignore: Deno.build.os === "windows",
  fn: () =>
    withTempDir(async (dir) => {
      const file = `${dir}/home/.ssh/known_hosts`;
      await appendKnownHost(file, `a ssh-ed25519 ${ED_A}`);
      await appendKnownHost(file, `b ssh-ed25519 ${ED_B}`);
      assert.equal(
        await Deno.readTextFile(file),
        `a ssh-ed25519 ${ED_A}\nb ssh-ed25519 ${ED_B}\n`,
      );
      assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(`${dir}/home/.ssh`)).mode! & 0o777, 0o700);
    }),
});

Deno.test("appendKnownHost() adds a missing trailing newline first", () =>
  withTempDir(async (dir) => {
    const file = `${dir}/known_hosts`;
    await Deno.writeTextFile(file, `a ssh-ed25519 ${ED_A}`);
    await appendKnownHost(file, `b ssh-ed25519 ${ED_B}`);
    assert.equal(
      await Deno.readTextFile(file),
      `a ssh-ed25519 ${ED_A}\nb ssh-ed25519 ${ED_B}\n`,
    );
    await Deno.writeTextFile(`${dir}/empty`, "");
    await appendKnownHost(`${dir}/empty`, "x");
    assert.equal(await Deno.readTextFile(`${dir}/empty`), "x\n");
  }));

Deno.test("appendKnownHost() rejects a line with a newline and reports write errors", () =>
  withTempDir(async (dir) => {
    await assert.rejects(appendKnownHost(`${dir}/kh`, "a\nb"), TypeError);
    await Deno.writeTextFile(`${dir}/file`, "");
    await assert.rejects(
      appendKnownHost(`${dir}/file/known_hosts`, "a"),
      (err: Error & { kind?: string }) => {
        assert.equal(err.kind, "io");
        assert.match(err.message, /^Cannot add host key to .*file\/known_hosts: /);
        return true;
      },
    );
  }));
