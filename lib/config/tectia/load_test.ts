/**
 * The config reader element by element: what each supported element and
 * attribute becomes in the model, the defaults, expansion, and the public
 * API around it. Errors and warnings: load_errors_test.ts; the dump
 * round trip: dump_test.ts.
 */
import assert from "node:assert/strict";
import {
  dumpBrokerConfig,
  loadBrokerConfig,
  parseBrokerConfig,
  resolveConfigPath,
} from "./load.ts";
import { findProfile, gatewayChain, type Settings } from "./model.ts";
import { UsageError } from "../../errors.ts";

const ENV: Record<string, string> = { HOME: "/home/ann", USER: "ann", DB: "db.internal" };
const env = (name: string) => ENV[name];
const EXAMPLE = new URL("../../../config/ssh-broker-config.xml", import.meta.url).pathname;

/** Parse `body` inside <secsh-broker> (line 2 on), as /etc/w/c.xml. */
function parse(body: string, vars: Record<string, string> = {}) {
  const all = { ...ENV, ...vars };
  return parseBrokerConfig(
    `<secsh-broker>\n${body}\n</secsh-broker>`,
    "/etc/w/c.xml",
    (n) => all[n],
  );
}

const DEFAULTS: Settings = {
  keepaliveInterval: 30,
  tcpConnectTimeout: 15,
  idleTimeout: 5,
  hostKeyPolicy: "ask",
  authMethods: ["publickey", "keyboard-interactive", "password"],
  ciphers: [],
  macs: [],
  kexs: [],
  hostKeyAlgorithms: [],
};

Deno.test("an empty <secsh-broker/> gives warren's defaults", () => {
  const config = parseBrokerConfig(
    '<?xml version="1.0"?>\n<!DOCTYPE secsh-broker SYSTEM "ssh-broker-ng-config-1.dtd">\n' +
      '<secsh-broker version="1.0"/>',
    "c.xml",
    env,
  );
  assert.deepEqual(config, {
    file: "c.xml",
    knownHostsFiles: [
      "/home/ann/.ssh/known_hosts",
      "/etc/ssh/ssh_known_hosts",
      "/home/ann/.ssh2/hostkeys/",
      "/etc/ssh2/hostkeys/",
    ],
    defaults: { ...DEFAULTS, user: undefined },
    profiles: [],
    staticTunnels: [],
    filterRules: [],
    logging: { target: "stderr", severity: "info" },
    warnings: [],
  });
});

Deno.test("<default-settings>: every supported child and the user attribute", () => {
  const config = parse(`<default-settings user="%USERNAME%">
  <ciphers><cipher name="aes256-gcm@openssh.com"/><cipher name="aes128-ctr"/></ciphers>
  <macs><mac name="hmac-sha2-256"/></macs>
  <kexs><kex name="curve25519-sha256"/><kex name="diffie-hellman-group14-sha256"/></kexs>
  <hostkey-algorithms><hostkey-algorithm name="ssh-ed25519"/></hostkey-algorithms>
  <authentication-methods>
    <auth-password><password command="pass show ssh"/></auth-password>
    <auth-publickey/>
  </authentication-methods>
  <compression name="none"/>
  <idle-timeout type="connection" time="0"/>
  <tcp-connect-timeout time="7"/>
  <keepalive-interval time="0"/>
  <server-authentication-methods><auth-server-publickey policy="tofu"/></server-authentication-methods>
</default-settings>
<profiles><profile id="p" host="h"/></profiles>`);
  assert.deepEqual(config.defaults, {
    user: "ann",
    keepaliveInterval: 0,
    tcpConnectTimeout: 7,
    idleTimeout: 0,
    hostKeyPolicy: "tofu",
    authMethods: ["password", "publickey"],
    ciphers: ["aes256-gcm@openssh.com", "aes128-ctr"],
    macs: ["hmac-sha2-256"],
    kexs: ["curve25519-sha256", "diffie-hellman-group14-sha256"],
    hostKeyAlgorithms: ["ssh-ed25519"],
  });
  // The default password source reaches profiles that have none.
  assert.equal(config.profiles[0].passwordSource, "extprog://pass show ssh");
  assert.deepEqual(config.profiles[0].settings, config.defaults);
  assert.deepEqual(config.warnings, []);
});

Deno.test("legacy <authentication-method name> and empty user (= the local user)", () => {
  const config = parse(`<default-settings user="">
  <authentication-methods>
    <authentication-method name="keyboard-interactive"/>
    <authentication-method name="publickey"/>
  </authentication-methods>
</default-settings>`);
  assert.deepEqual(config.defaults.authMethods, ["keyboard-interactive", "publickey"]);
  assert.equal(config.defaults.user, undefined);
});

Deno.test("<server-authentication-methods> without auth-server-publickey is strict", () => {
  const config = parse(
    "<default-settings><server-authentication-methods/></default-settings>",
  );
  assert.equal(config.defaults.hostKeyPolicy, "strict");
});

Deno.test("<profile>: every attribute and child, overrides over the defaults", () => {
  const config = parse(
    `<default-settings user="ann"><keepalive-interval time="60"/></default-settings>
<profiles>
  <profile id="gw" host="gw.example"/>
  <profile id="db" name="Database" host="$DB" port="2222" protocol="secsh2" host-type="default"
           connect-on-startup="YES" user="dba" gateway-profile="gw">
    <hostkey file="keys/db.pub"/>
    <user-identities>
      <identity file="~/.ssh/id_ed25519"/>
      <identity identity-file="/keys/ci.pub"/>
    </user-identities>
    <password file="db.pw"/>
    <keepalive-interval time="10"/>
    <authentication-methods><auth-publickey/></authentication-methods>
    <tunnels>
      <local-tunnel type="tcp" listen-port="5432" dst-host="localhost" dst-port="5432"/>
      <remote-tunnel type="FTP" listen-address="localhost" listen-port="0" dst-host="ftp" dst-port="21" allow-relay="no"/>
    </tunnels>
  </profile>
</profiles>`,
  );
  const [gw, db] = config.profiles;
  assert.deepEqual(gw, {
    id: "gw",
    host: "gw.example",
    port: 22,
    connectOnStartup: false,
    identityFiles: [],
    settings: { ...DEFAULTS, user: "ann", keepaliveInterval: 60 },
    tunnels: [],
    source: { file: "/etc/w/c.xml", line: 4, col: 3 },
  });
  assert.deepEqual(db, {
    id: "db",
    name: "Database",
    host: "db.internal",
    port: 2222,
    connectOnStartup: true,
    gatewayProfile: "gw",
    hostKeyFile: "/etc/w/keys/db.pub",
    identityFiles: ["/home/ann/.ssh/id_ed25519", "/keys/ci"],
    passwordSource: "file:///etc/w/db.pw",
    settings: {
      ...DEFAULTS,
      user: "dba",
      keepaliveInterval: 10,
      authMethods: ["publickey"],
    },
    tunnels: [
      {
        direction: "local",
        type: "tcp",
        listenPort: 5432,
        dstHost: "localhost",
        dstPort: 5432,
        allowRelay: false,
        source: { file: "/etc/w/c.xml", line: 16, col: 7 },
      },
      {
        direction: "remote",
        type: "ftp",
        listenAddress: "localhost",
        listenPort: 0,
        dstHost: "ftp",
        dstPort: 21,
        allowRelay: false,
        source: { file: "/etc/w/c.xml", line: 17, col: 7 },
      },
    ],
    source: { file: "/etc/w/c.xml", line: 5, col: 3 },
  });
  assert.deepEqual(config.defaults, { ...DEFAULTS, user: "ann", keepaliveInterval: 60 });
});

Deno.test("<static-tunnels><tunnel>: tcp, ftp and socks, TCP/tcp in any case, yes/no/YES/NO", () => {
  const config = parse(`<profiles><profile id="p" host="h"/></profiles>
<static-tunnels>
  <tunnel type="TCP" listen-port="1143" dst-host="imap" dst-port="143" profile="p"/>
  <tunnel type="Ftp" listen-port="2121" dst-host="ftp" dst-port="21" allow-relay="YES" profile="p"/>
  <tunnel type="socks" listen-address="[::1]" listen-port="1080" dst-host="" dst-port="0" allow-relay="NO" profile="p"/>
  <tunnel listen-address="0.0.0.0" listen-port="8080" dst-host="[2001:db8::5]" dst-port="80" allow-relay="yes" profile="p"/>
</static-tunnels>`);
  const at = (line: number) => ({ file: "/etc/w/c.xml", line, col: 3 });
  assert.deepEqual(config.staticTunnels, [
    {
      direction: "local",
      type: "tcp",
      listenPort: 1143,
      dstHost: "imap",
      dstPort: 143,
      allowRelay: false,
      profile: "p",
      source: at(4),
    },
    {
      direction: "local",
      type: "ftp",
      listenPort: 2121,
      dstHost: "ftp",
      dstPort: 21,
      allowRelay: true,
      profile: "p",
      source: at(5),
    },
    {
      direction: "local",
      type: "socks",
      listenAddress: "::1",
      listenPort: 1080,
      allowRelay: false,
      profile: "p",
      source: at(6),
    },
    {
      direction: "local",
      type: "tcp",
      listenAddress: "0.0.0.0",
      listenPort: 8080,
      dstHost: "2001:db8::5",
      dstPort: 80,
      allowRelay: true,
      profile: "p",
      source: at(7),
    },
  ]);
});

Deno.test('<remote-tunnel type="socks">: a reverse proxy tunnel, port 0 allowed, no destination', () => {
  const tunnels = parse(`<profiles><profile id="p" host="h"><tunnels>
  <remote-tunnel type="SOCKS" listen-port="0"/>
  <remote-tunnel type="socks" listen-address="localhost" listen-port="1080"/>
</tunnels></profile></profiles>`).profiles[0].tunnels;
  assert.deepEqual(tunnels.map((t) => [t.direction, t.type, t.listenPort, t.dstHost]), [
    ["remote", "socks", 0, undefined],
    ["remote", "socks", 1080, undefined],
  ]);
  assert.throws(
    () =>
      parse(`<profiles><profile id="p" host="h"><tunnels>
  <remote-tunnel type="socks" listen-port="1" dst-host="d"/>
</tunnels></profile></profiles>`),
    /a socks tunnel's clients name their own destinations/,
  );
});

Deno.test("allow-relay: no keeps a listener local (no address, or a loopback one); yes opens it", () => {
  const tunnel = (attrs: string) =>
    parse(`<profiles><profile id="p" host="h"><tunnels>
  <local-tunnel listen-port="1" dst-host="d" dst-port="2" ${attrs}/>
</tunnels></profile></profiles>`).profiles[0].tunnels[0];
  assert.equal(tunnel("").allowRelay, false);
  assert.equal(tunnel("").listenAddress, undefined);
  assert.equal(tunnel('allow-relay="yes"').allowRelay, true);
  assert.equal(tunnel('allow-relay="yes"').listenAddress, undefined);
  for (const local of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"]) {
    assert.equal(tunnel(`listen-address="${local}"`).allowRelay, false, local);
  }
  assert.throws(() => tunnel('listen-address="192.0.2.1"'), UsageError);
  assert.equal(tunnel('listen-address="192.0.2.1" allow-relay="yes"').listenAddress, "192.0.2.1");
});

Deno.test('<general><known-hosts>: the files listed replace the defaults; file="" leaves none', () => {
  const files = (body: string) => parse(`<general>${body}</general>`).knownHostsFiles;
  assert.deepEqual(
    files('<known-hosts file="kh"/><known-hosts path="%HOMEDIR%/.ssh/known_hosts"/>'),
    ["/etc/w/kh", "/home/ann/.ssh/known_hosts"],
  );
  assert.deepEqual(files('<known-hosts file=""/>'), []);
  assert.deepEqual(files('<known-hosts path=""/><known-hosts file="/k"/>'), ["/k"]);
  assert.deepEqual(files('<crypto-lib mode="standard"/>'), [
    "/home/ann/.ssh/known_hosts",
    "/etc/ssh/ssh_known_hosts",
    "/home/ann/.ssh2/hostkeys/",
    "/etc/ssh2/hostkeys/",
  ]);
  // Tectia's own form: a storage format alone leaves the defaults; file and directory together.
  assert.equal(files('<known-hosts filename-format="plain"/>').length, 4);
  assert.deepEqual(files('<known-hosts file="/kh" directory="/d/"/>'), ["/kh", "/d/"]);
});

Deno.test("<logging>: the target and the lowest severity of any <log-events>", () => {
  const logging = (body: string) => parse(`<logging>${body}</logging>`).logging;
  assert.deepEqual(logging('<log-target type="file" file="broker.log"/>'), {
    target: "file",
    file: "/etc/w/broker.log",
    severity: "info",
  });
  assert.deepEqual(logging('<log-target type="syslog"/><log-events severity="error"/>'), {
    target: "syslog",
    severity: "error",
  });
  assert.deepEqual(
    logging('<log-events severity="critical"/><log-events severity="warning"/>'),
    { target: "stderr", severity: "warning" },
  );
  assert.equal(logging('<log-events severity="informational"/>').severity, "info");
  assert.equal(logging('<log-events severity="notice"/>').severity, "info");
  assert.equal(logging('<log-events severity="debug"/>').severity, "debug");
  assert.equal(logging('<log-target type="discard"/>').target, "discard");
});

Deno.test("values are expanded: $VAR, ${VAR:-default}, %VAR%, %USERNAME%, %homedir%", () => {
  const config = parse(
    `<profiles><profile id="p" host="\${JUMP:-jump.example}" port="$PORT" user="%LOGIN%">
  <user-identities><identity file="%homedir%/.ssh/%USERNAME%_key"/></user-identities>
</profile></profiles>`,
    { PORT: "2200", LOGIN: "ops" },
  );
  const p = config.profiles[0];
  assert.equal(p.host, "jump.example");
  assert.equal(p.port, 2200);
  assert.equal(p.settings.user, "ops");
  assert.deepEqual(p.identityFiles, ["/home/ann/.ssh/ann_key"]);
});

Deno.test("entities and numeric character references in values are decoded", () => {
  const config = parse(
    '<profiles><profile id="a&amp;b" name="&lt;&#65;&#x42;&#10;&quot;&apos;&gt;" host="h"/></profiles>',
  );
  assert.equal(config.profiles[0].id, "a&b");
  assert.equal(config.profiles[0].name, "<AB\n\"'>");
});

Deno.test("findProfile() by id, then name; gatewayChain() lists the hops outermost first", () => {
  const config = parse(`<profiles>
  <profile id="a" name="Alpha" host="a"/>
  <profile id="b" name="a-name" host="b" gateway-profile="a"/>
  <profile id="c" host="c" gateway-profile="b"/>
</profiles>`);
  assert.equal(findProfile(config, "a")?.id, "a");
  assert.equal(findProfile(config, "Alpha")?.id, "a");
  assert.equal(findProfile(config, "nope"), undefined);
  assert.deepEqual(gatewayChain(config, findProfile(config, "c")!).map((p) => p.id), [
    "a",
    "b",
    "c",
  ]);
  assert.deepEqual(gatewayChain(config, findProfile(config, "a")!).map((p) => p.id), ["a"]);
});

Deno.test("the example config: no warnings, what it says, and its dump reads back the same", async () => {
  const config = await loadBrokerConfig(EXAMPLE, env);
  assert.deepEqual(config.warnings, []);
  assert.equal(config.file, EXAMPLE);
  assert.deepEqual(config.profiles.map((p) => [p.id, p.gatewayProfile]), [
    ["bastion", undefined],
    ["db", "bastion"],
  ]);
  assert.equal(findProfile(config, "db")!.settings.user, "postgres"); // ${DB_USER:-postgres}
  assert.equal(config.staticTunnels.length, 3);
  const dumped = dumpBrokerConfig(config);
  assert.equal(dumpBrokerConfig(parseBrokerConfig(dumped, config.file, env)), dumped);
});

Deno.test("loadBrokerConfig(): a missing file is a ConfigError naming it", async () => {
  await assert.rejects(() => loadBrokerConfig("/nonexistent/c.xml", env), {
    name: "ConfigError",
    message: "Cannot read config file /nonexistent/c.xml: no such file",
  });
});

Deno.test("resolveConfigPath(): --config, then $WARREN_CONFIG, then ~/.ssh2/ssh-broker-config.xml", () => {
  const withVar = (n: string) => ({ ...ENV, WARREN_CONFIG: "/w.xml" })[n];
  assert.equal(resolveConfigPath("/x.xml", withVar), "/x.xml");
  assert.equal(resolveConfigPath(undefined, withVar), "/w.xml");
  assert.equal(resolveConfigPath(undefined, env), "/home/ann/.ssh2/ssh-broker-config.xml");
  assert.equal(
    resolveConfigPath(undefined, (n) => ({ ...ENV, WARREN_CONFIG: "" })[n]),
    "/home/ann/.ssh2/ssh-broker-config.xml",
  );
});
