/**
 * Configuration files in the shapes Tectia's own manuals and man pages give
 * (ssh-broker-config(5), the z/OS examples), read as a migrating user reads
 * them: `warren config check FILE` and `warren config dump FILE`, run as a
 * user runs warren. Each file here is written for its case.
 */
import assert from "node:assert/strict";
import { runCli } from "./_harness/cli.ts";
import { startTestServer } from "./_harness/ssh_server.ts";

// A run gets its own HOME; Deno's cache must stay where it is (it follows HOME).
const info = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
const DENO_DIR: string = JSON.parse(new TextDecoder().decode(info.stdout)).denoDir;

interface Home extends AsyncDisposable {
  path: string;
  /** Write `text` to `name` under the home; returns its path. */
  write(name: string, text: string): Promise<string>;
  env: Record<string, string>;
}

async function home(): Promise<Home> {
  const path = await Deno.makeTempDir({ prefix: "warren-tectia-" });
  return {
    path,
    env: { DENO_DIR, HOME: path, USER: "ann", WARREN_CONFIG: "" },
    async write(name, text) {
      const file = `${path}/${name}`;
      await Deno.mkdir(file.slice(0, file.lastIndexOf("/")), { recursive: true });
      await Deno.writeTextFile(file, text);
      return file;
    },
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

function check(h: Home, file: string) {
  return runCli(["config", "check", file], { env: h.env });
}

Deno.test("config check reports every mistake of a file in one run, each with its position", async () => {
  await using h = await home();
  const file = await h.write(
    "broker.xml",
    `<secsh-broker version="1.0">
  <default-settings>
    <keepalive-intervall time="30"/>
  </default-settings>
  <profiles>
    <profile id="db" host="db.example.com" port="70000"/>
    <profile id="web" host="web.example.com" hostname="x" gateway-profile="nowhere"/>
    <profile id="db" host="other.example.com"/>
  </profiles>
</secsh-broker>
`,
  );
  const r = await check(h, file);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, "");
  assert.deepEqual(r.stderr.trim().split("\n"), [
    `warren: ${file}:3:5: unknown element <keepalive-intervall> in <default-settings> (known: ` +
    "<ciphers>, <macs>, <kexs>, <hostkey-algorithms>, <authentication-methods>, <idle-timeout>, " +
    "<tcp-connect-timeout>, <keepalive-interval>, <server-authentication-methods>, <compression>, <proxy>)",
    `warren: ${file}:6:44: bad port '70000': expected a whole number from 1 to 65535`,
    `warren: ${file}:7:46: unknown attribute 'hostname' on <profile> (known: id, name, host, port, ` +
    "protocol, host-type, connect-on-startup, user, gateway-profile)",
    `warren: ${file}:7:59: gateway-profile: no profile has the id 'nowhere'`,
    `warren: ${file}:8:14: duplicate profile id 'db' (first at 6:5)`,
  ]);
});

Deno.test("config check reads files of Tectia 6.x: version 6.4 and 6.1 on <secsh-broker>", async () => {
  await using h = await home();
  for (const version of ["6.4", "6.1", "1.0"]) {
    const file = await h.write(
      `v${version}.xml`,
      `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE secsh-broker SYSTEM "ssh-broker-ng-config-1.dtd">
<secsh-broker version="${version}">
  <profiles>
    <profile id="zos" name="mainframe" host="zos.example.com" port="22" protocol="secsh2"/>
  </profiles>
</secsh-broker>
`,
    );
    const r = await check(h, file);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${file}: OK: 1 profile, 0 profile tunnels, 0 static tunnels\n`);
  }
  const bad = await check(h, await h.write("bad.xml", '<secsh-broker version="six"/>\n'));
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /bad\.xml:1:15: bad version 'six': expected a version number/);
});

Deno.test("config check and dump read the man page's <logging> examples", async () => {
  await using h = await home();
  // ssh-broker-config(5): "logs all events ... both to /tmp/foo and to syslog", and a
  // file target with events discarded by name.
  const log = `${h.path}/broker.log`;
  const both = await h.write(
    "both.xml",
    `<secsh-broker>
  <logging>
    <log-target file="${log}" />
    <log-target type="syslog" />
  </logging>
</secsh-broker>
`,
  );
  const r = await check(h, both);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stderr.trim().split("\n"), [
    `warren: warning: ${both}:4:5: log target syslog beside ${log} is not supported by warren: ` +
    `the broker logs to ${log} only (ignored)`,
  ]);
  const dump = await runCli(["config", "dump", both], { env: h.env });
  assert.equal(dump.code, 0, dump.stderr);
  assert.match(dump.stdout, new RegExp(`<log-target type="file" file="${log}"/>`));

  const fileOnly = await h.write(
    "file.xml",
    `<secsh-broker>
  <logging>
    <log-target file="${log}" />
    <log-events facility="discard">
      Key_store_*
    </log-events>
  </logging>
</secsh-broker>
`,
  );
  const f = await check(h, fileOnly);
  assert.equal(f.code, 0, f.stderr);
  assert.match(f.stderr, /4:5: choosing events by name is not supported by warren/);
  assert.match(f.stderr, /4:17: facility="discard" on <log-events> is not supported by warren/);
  assert.doesNotMatch(f.stderr, /expected no file|duplicate/);

  // file= with type="syslog" is the one combination the man page forbids.
  const wrong = await h.write(
    "wrong.xml",
    `<secsh-broker>\n  <logging>\n    <log-target type="syslog" file="${log}"/>\n  </logging>\n</secsh-broker>\n`,
  );
  const w = await check(h, wrong);
  assert.equal(w.code, 2, w.stderr);
  assert.equal(w.stderr.trim(), `warren: ${wrong}:3:31: file= is not allowed with type="syslog"`);
});

Deno.test("config check reads the legacy <authentication-method> in both places Tectia keeps it", async () => {
  await using h = await home();
  const file = await h.write(
    "legacy.xml",
    `<secsh-broker>
  <default-settings>
    <authentication-methods>
      <authentication-method name="publickey" />
      <authentication-method name="password" />
    </authentication-methods>
    <server-authentication-methods>
      <authentication-method name="publickey" />
      <authentication-method name="certificate" />
    </server-authentication-methods>
  </default-settings>
</secsh-broker>
`,
  );
  const r = await check(h, file);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stderr.trim().split("\n"), [
    `warren: warning: ${file}:9:30: name="certificate" on <authentication-method> is not ` +
    "supported by warren: it accepts no host certificates; host keys are checked instead (ignored)",
  ]);
  // publickey there is <auth-server-publickey/>: Tectia's default policy, ask.
  const dump = await runCli(["config", "dump", file], { env: h.env });
  assert.equal(dump.code, 0, dump.stderr);
  assert.match(dump.stdout, /<auth-server-publickey policy="ask"\/>/);
  assert.match(dump.stdout, /<auth-publickey\/>\s*<auth-password\/>/);
});

Deno.test("config check names a Tectia setting warren lacks as that, and a typo as unknown", async () => {
  await using h = await home();
  // The man page's own examples: signature-algorithms on <auth-publickey>, Tectia's
  // terminal settings; then a typo of each kind.
  const file = await h.write(
    "features.xml",
    `<secsh-broker>
  <default-settings>
    <authentication-methods>
      <auth-publickey signature-algorithms="ssh-rsa-sha224@ssh.com"/>
      <auth-pasword/>
    </authentication-methods>
    <terminal-bell bell-style="none"/>
  </default-settings>
  <profiles>
    <profile id="p" host="h">
      <user-identities>
        <identity file="~/.ssh/id_ed25519" data="x"/>
        <identity file="~/.ssh/id_rsa" dat="x"/>
      </user-identities>
    </profile>
  </profiles>
</secsh-broker>
`,
  );
  const r = await check(h, file);
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.trim().split("\n");
  assert.deepEqual(lines.filter((l) => !l.includes("warning:")), [
    `warren: ${file}:4:23: signature-algorithms="ssh-rsa-sha224@ssh.com" on <auth-publickey> is ` +
    "not supported by warren: warren signs with the algorithm ssh2 picks for the key (for RSA " +
    "rsa-sha2-512 or -256 when the server offers them, else ssh-rsa), so it cannot keep to this list",
    `warren: ${file}:5:7: unknown element <auth-pasword> in <authentication-methods> (known: ` +
    "<auth-publickey>, <auth-keyboard-interactive>, <auth-password>, <authentication-method>)",
    `warren: ${file}:13:40: unknown attribute 'dat' on <identity> (known: file, identity-file, hash)`,
  ]);
  // Warnings are printed before the errors; here: what warren ignores of the file.
  const warnings = lines.filter((l) => l.includes("warning:"));
  assert.deepEqual(warnings, [
    `warren: warning: ${file}:7:5: <terminal-bell> is not supported by warren: warren has no ` +
    "terminal window (ignored)",
    `warren: warning: ${file}:12:44: data="x" on <identity> is not supported by warren: reserved ` +
    "by Tectia for future use (ignored)",
  ]);
});

Deno.test("config dump: an attribute value written across lines is read with spaces, as XML reads it", async () => {
  await using h = await home();
  // As ssh-broker-config(5) writes a long ruleset; and a profile name broken in two.
  const file = await h.write(
    "lines.xml",
    `<secsh-broker>
  <default-settings>
    <proxy ruleset="direct:///127.0.0.0/8,*.ssh.com;
                    direct:///10.0.0.0/8" />
  </default-settings>
  <profiles>
    <profile id="b" name="Build\r
server" host="build.example.com"/>
    <profile id="k" name="kept&#10;break" host="k.example.com"/>
  </profiles>
</secsh-broker>
`,
  );
  const r = await runCli(["config", "dump", file], { env: h.env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /<profile id="b" name="Build server" host="build\.example\.com"/);
  // A line break written as a character reference is part of the value.
  assert.match(r.stdout, /<profile id="k" name="kept&#10;break"/);
  // The ruleset's line break is a space: one ruleset with two rules.
  assert.match(
    r.stdout,
    /<proxy ruleset="direct:\/\/\/127\.0\.0\.0\/8,\*\.ssh\.com; +direct:\/\/\/10\.0\.0\.0\/8"/,
  );
});

/** The host key in RFC 4716 form, as Tectia keeps it in key_<port>_<host>.pub. */
function secshKey(blob: Uint8Array): string {
  const b64 = btoa(String.fromCharCode(...blob)).match(/.{1,70}/g)!.join("\n");
  return `---- BEGIN SSH2 PUBLIC KEY ----\nComment: "saved by Tectia"\n${b64}\n` +
    "---- END SSH2 PUBLIC KEY ----\n";
}

Deno.test("a migrating user's ~/.ssh2/hostkeys is read for host keys, never written, and named in config dump", async () => {
  await using server = await startTestServer();
  await using h = await home();
  const hostkeys = `${h.path}/.ssh2/hostkeys`;
  await h.write(`.ssh2/hostkeys/key_${server.port}_127.0.0.1.pub`, secshKey(server.hostKeyBlob));
  await h.write(".ssh2/hostkeys/keys_182166d2efe5a134d3fb948646e0b48f780bff6c", "hashed");
  const file = await h.write(
    "broker.xml",
    `<secsh-broker version="6.4">
  <general>
    <known-hosts path="~/.ssh2/hostkeys" filename-format="plain"/>
  </general>
  <default-settings>
    <server-authentication-methods>
      <auth-server-publickey policy="strict"/>
    </server-authentication-methods>
  </default-settings>
</secsh-broker>
`,
  );
  const ssh = ["-B", "-i", server.clientKey, "--config", file];
  // Strict, and the key only in Tectia's directory: it is trusted.
  const r = await runCli([...ssh, "-p", `${server.port}`, "127.0.0.1", "--", "true"], {
    env: h.env,
  });
  assert.equal(r.code, 0, r.stderr);

  // Another server, unknown: tofu accepts it but writes nothing into the directory.
  await using other = await startTestServer();
  const before = [...Deno.readDirSync(hostkeys)].map((e) => e.name).sort();
  const tofu = await runCli(
    [...ssh, "--hostkey-policy=tofu", "-i", other.clientKey, "-p", `${other.port}`, "127.0.0.1"]
      .concat(["--", "true"]),
    { env: h.env },
  );
  assert.equal(tofu.code, 0, tofu.stderr);
  assert.match(tofu.stderr, /not saved: the only known hosts are Tectia host key directories/);
  assert.deepEqual([...Deno.readDirSync(hostkeys)].map((e) => e.name).sort(), before);

  const dump = await runCli(["config", "dump", file], { env: h.env });
  assert.equal(dump.code, 0, dump.stderr);
  assert.match(
    dump.stdout,
    new RegExp(
      "<!-- Tectia host key directory: read by warren, never written; 1 key under " +
        "key_<port>_<host>\\.pub, 1 key under hashed names \\(keys_\\*\\), which warren cannot " +
        `read -->\\s*<known-hosts directory="${hostkeys}"/>`,
    ),
  );
  const checked = await check(h, file);
  assert.equal(checked.code, 0, checked.stderr);
  assert.match(
    checked.stderr,
    new RegExp(`${hostkeys}/ holds 1 host key\\(s\\) under Tectia's hashed names \\(keys_\\*\\)`),
  );
});
