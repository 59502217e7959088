/**
 * `dumpBrokerConfig`: its exact output for a small config, and parse → dump
 * → parse on hundreds of generated configs (every element, variables whose
 * values hold `$`, `%` and XML's special characters).
 */
import assert from "node:assert/strict";
import { dumpBrokerConfig, parseBrokerConfig } from "./load.ts";
import type { BrokerConfig } from "./model.ts";
import { supportedAlgorithms } from "../ssh_algorithms.ts";

const ENV: Record<string, string> = {
  HOME: "/home/ann",
  USER: "ann",
  ODD: `a$HOME%USERNAME%$$b&<"'>\n\t.`,
  ODD_USER: `u$HOME%U%$$&<"'>`,
  PORT: "2222",
};
const env = (name: string) => ENV[name];

Deno.test("dumpBrokerConfig() writes the defaults in full and only what a profile changes", () => {
  const config = parseBrokerConfig(
    `<secsh-broker>
  <default-settings user="%USERNAME%"><keepalive-interval time="60"/></default-settings>
  <profiles>
    <profile id="a" host="a.example"/>
    <profile id="b" name="$ODD" host="b.example" port="$PORT" user="bob" gateway-profile="a">
      <keepalive-interval time="60"/>
      <idle-timeout time="9"/>
      <tunnels><local-tunnel type="socks" listen-port="1080"/></tunnels>
    </profile>
  </profiles>
</secsh-broker>`,
    "/etc/w/c.xml",
    env,
  );
  assert.equal(
    dumpBrokerConfig(config),
    `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE secsh-broker SYSTEM "ssh-broker-ng-config-1.dtd">
<!-- warren config dump of /etc/w/c.xml: defaults filled in, variables expanded -->
<secsh-broker version="1.0">
  <general>
    <known-hosts file="/home/ann/.ssh/known_hosts"/>
    <known-hosts file="/etc/ssh/ssh_known_hosts"/>
    <!-- Tectia host key directory: read by warren, never written -->
    <known-hosts directory="/home/ann/.ssh2/hostkeys"/>
    <!-- Tectia host key directory: read by warren, never written -->
    <known-hosts directory="/etc/ssh2/hostkeys"/>
  </general>
  <default-settings user="ann">
    <authentication-methods>
      <auth-publickey/>
      <auth-keyboard-interactive/>
      <auth-password/>
    </authentication-methods>
    <idle-timeout type="connection" time="5"/>
    <tcp-connect-timeout time="15"/>
    <keepalive-interval time="60"/>
    <server-authentication-methods>
      <auth-server-publickey policy="ask"/>
    </server-authentication-methods>
  </default-settings>
  <profiles>
    <profile id="a" host="a.example" port="22" connect-on-startup="no"/>
    <profile id="b" name="a$$HOME%%USERNAME%%$$$$b&amp;&lt;&quot;'&gt;&#10;&#9;." host="b.example" port="2222" connect-on-startup="no" user="bob" gateway-profile="a">
      <idle-timeout type="connection" time="9"/>
      <tunnels>
        <local-tunnel type="socks" listen-port="1080" allow-relay="no"/>
      </tunnels>
    </profile>
  </profiles>
  <logging>
    <log-target type="stderr"/>
    <log-events severity="info"/>
  </logging>
</secsh-broker>
`,
  );
});

/** A small seeded generator, so a failure names a config that can be replayed. */
class Random {
  constructor(private seed: number) {}
  next(): number {
    this.seed = (this.seed * 1103515245 + 12345) % 2 ** 31;
    return this.seed / 2 ** 31;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p = 0.5): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  subset<T>(items: readonly T[]): T[] {
    return items.filter(() => this.chance(0.4));
  }
}

const VALUES = [
  "x",
  "$ODD",
  "%USERNAME%",
  "${NOPE:-fallback}",
  "%homedir%/v",
  "q&amp;a",
  "'quoted'",
];
const HOSTS = ["h.example", "10.0.0.1", "[2001:db8::1]", "$NOPE${PORT}.example", "%U.example"];
const FILES = ["rel/file", "/abs/file", "~/in/home", "%HOMEDIR%/k", "$ODD/k", "f.pub"];

function settingsXml(r: Random): string {
  let out = "";
  const list = (outer: string, inner: string, names: readonly string[]) => {
    if (r.chance(0.3)) {
      out += `<${outer}>${
        r.subset(names).map((n) => `<${inner} name="${n}"/>`).join("")
      }</${outer}>`;
    }
  };
  list("ciphers", "cipher", supportedAlgorithms("cipher"));
  list("macs", "mac", supportedAlgorithms("mac"));
  list("kexs", "kex", supportedAlgorithms("kex"));
  list("hostkey-algorithms", "hostkey-algorithm", supportedAlgorithms("hostkey-algorithm"));
  if (r.chance(0.3)) {
    const methods = ["<auth-publickey/>", "<auth-keyboard-interactive/>", "<auth-password/>"];
    const chosen = methods.filter(() => r.chance(0.6));
    if (chosen.length === 0) chosen.push(methods[0]);
    if (r.chance()) chosen.reverse();
    out += `<authentication-methods>${chosen.join("")}</authentication-methods>`;
  }
  for (const name of ["idle-timeout", "tcp-connect-timeout", "keepalive-interval"]) {
    if (r.chance(0.3)) out += `<${name} time="${r.int(100)}"/>`;
  }
  if (r.chance(0.3)) {
    const policy = r.pick(["strict", "ask", "tofu", "advisory", "STRICT"]);
    out += `<server-authentication-methods><auth-server-publickey policy="${policy}"/>` +
      "</server-authentication-methods>";
  }
  return out;
}

function tunnelXml(r: Random, name: string, remote: boolean, port: number, extra = ""): string {
  const type = r.pick(["tcp", "ftp", "socks", remote ? "TCP" : "Ftp"]);
  const relay = r.chance(0.3);
  const address = relay ? r.pick(["", "0.0.0.0", "::", "[::1]"]) : r.pick(["", "127.0.0.1", "::1"]);
  let out = `<${name} type="${type}" listen-port="${remote && r.chance(0.2) ? 0 : port}"`;
  if (address) out += ` listen-address="${address}"`;
  if (r.chance()) out += ` allow-relay="${relay ? r.pick(["yes", "YES"]) : r.pick(["no", "NO"])}"`;
  else if (relay) out += ` allow-relay="yes"`;
  if (type.toLowerCase() !== "socks") {
    out += ` dst-host="${r.pick(HOSTS)}" dst-port="${1 + r.int(65535)}"`;
  }
  return `${out}${extra}/>`;
}

function randomConfig(r: Random): string {
  let port = 1000;
  let xml = '<secsh-broker version="1.0">';
  if (r.chance()) {
    xml += "<general>";
    if (r.chance(0.2)) xml += '<known-hosts file=""/>';
    for (let i = r.int(3); i > 0; i--) xml += `<known-hosts file="${r.pick(FILES)}"/>`;
    xml += "</general>";
  }
  if (r.chance(0.7)) {
    const user = r.chance() ? ` user="${r.pick(["%USERNAME%", "$ODD_USER", "", "root"])}"` : "";
    const pw = r.chance(0.2)
      ? `<authentication-methods><auth-password><password file="${
        r.pick(FILES)
      }"/></auth-password></authentication-methods>`
      : "";
    xml += `<default-settings${user}>${pw || settingsXml(r)}</default-settings>`;
  }
  const ids: string[] = [];
  const count = r.int(5);
  if (count > 0) xml += "<profiles>";
  for (let i = 0; i < count; i++) {
    const id = `p${i}${r.chance(0.2) ? "$$" : ""}`;
    let attrs = `id="${id}" host="${r.pick(HOSTS)}"`;
    if (r.chance()) attrs += ` name="${r.pick(VALUES)} ${i}"`;
    if (r.chance()) attrs += ` port="${1 + r.int(65535)}"`;
    if (r.chance()) attrs += ` connect-on-startup="${r.pick(["yes", "no", "YES", "NO"])}"`;
    if (r.chance()) attrs += ` user="${r.pick(["bob", "$ODD_USER", "%USERNAME%"])}"`;
    if (ids.length && r.chance()) attrs += ` gateway-profile="${r.pick(ids)}"`;
    let body = "";
    if (r.chance(0.3)) body += `<hostkey file="${r.pick(FILES)}"/>`;
    if (r.chance(0.3)) {
      body += `<user-identities>${
        r.subset(FILES).map((f) => `<identity file="${f}"/>`).join("")
      }</user-identities>`;
    }
    if (r.chance(0.3)) {
      body += r.chance()
        ? `<password file="${r.pick(FILES)}"/>`
        : `<password command="${r.pick(VALUES)}"/>`;
    }
    body += settingsXml(r);
    if (r.chance(0.6)) {
      body += "<tunnels>";
      for (let t = r.int(4); t > 0; t--) {
        const remote = r.chance(0.4);
        body += tunnelXml(r, remote ? "remote-tunnel" : "local-tunnel", remote, port++);
      }
      body += "</tunnels>";
    }
    xml += `<profile ${attrs}>${body}</profile>`;
    ids.push(id.replace("$$", "$"));
  }
  if (count > 0) xml += "</profiles>";
  let rules = "";
  if (ids.length && r.chance()) {
    xml += "<static-tunnels>";
    for (let t = r.int(4); t > 0; t--) {
      const profile = r.pick(ids).replace("$", "$$");
      xml += tunnelXml(r, "tunnel", false, port++, ` profile="${profile}"`);
    }
    if (r.chance(0.4)) {
      xml += `<tunnel type="socks-proxy" listen-port="${port++}"/>`;
      for (let n = 1 + r.int(3); n > 0; n--) {
        const profile = r.pick(ids).replace("$", "$$");
        rules += r.pick([
          `<rule host=".*\\.corp" action="DIRECT"/>`,
          `<rule ip-address="10\\..*" ports="1-1023" action="block"/>`,
          `<rule host="db" ports="5432" action="TUNNEL" profile-id="${profile}"/>`,
          `<rule action="TUNNEL" profile-id="${profile}"/>`,
        ]);
      }
    }
    xml += "</static-tunnels>";
  }
  if (rules) xml += `<filter-engine>${rules}</filter-engine>`;
  if (r.chance()) {
    const target = r.pick([
      '<log-target type="file" file="l.log"/>',
      '<log-target type="syslog"/>',
      "",
    ]);
    const events = r.pick(["debug", "notice", "error", "critical"]);
    xml += `<logging>${target}<log-events severity="${events}"/></logging>`;
  }
  return xml + "</secsh-broker>";
}

/** The model without positions (a dump is a different file). */
function withoutSources(config: BrokerConfig): unknown {
  return JSON.parse(
    JSON.stringify(
      { ...config, warnings: undefined },
      (key, value) => key === "source" ? undefined : value,
    ),
  );
}

Deno.test("parse → dump → parse gives the same config, on 500 generated configs", () => {
  let withRules = 0;
  for (let seed = 1; seed <= 500; seed++) {
    const xml = randomConfig(new Random(seed));
    let first: BrokerConfig;
    try {
      first = parseBrokerConfig(xml, "/etc/w/gen.xml", env);
    } catch (err) {
      throw new Error(`seed ${seed} generated a config that does not parse:\n${xml}`, {
        cause: err,
      });
    }
    const dumped = dumpBrokerConfig(first);
    const second = parseBrokerConfig(dumped, "/etc/w/gen.xml", env);
    assert.deepEqual(
      withoutSources(second),
      withoutSources(first),
      `seed ${seed}:\n${xml}\n${dumped}`,
    );
    assert.equal(dumpBrokerConfig(second), dumped, `seed ${seed}`);
    assert.deepEqual(second.warnings, []);
    if (first.filterRules.length > 0) withRules++;
  }
  assert.ok(withRules > 20, `only ${withRules} configs had <filter-engine> rules`);
});

Deno.test('<compression name="zlib">: read into the settings and dumped back, defaults inherited', () => {
  const config = parseBrokerConfig(
    `<secsh-broker>
  <default-settings><compression name="zlib" level="9"/></default-settings>
  <profiles>
    <profile id="a" host="a.example"/>
    <profile id="b" host="b.example"><compression name="none"/></profile>
  </profiles>
</secsh-broker>`,
    "/etc/w/c.xml",
    env,
  );
  assert.equal(config.defaults.compression, true);
  assert.equal(config.profiles[0].settings.compression, true);
  assert.equal(config.profiles[1].settings.compression, false);
  const dump = dumpBrokerConfig(config);
  assert.match(dump, /<default-settings[^]*<compression name="zlib"\/>[^]*<\/default-settings>/);
  assert.match(dump, /<profile id="b"[^]*<compression name="none"\/>/);
  const again = parseBrokerConfig(dump, "/etc/w/c.xml", env);
  assert.deepEqual(again.profiles.map((p) => p.settings.compression), [true, false]);
});

Deno.test("<proxy ruleset>: read into rules, dumped back as written, a profile's own kept", () => {
  const ruleset = "direct://10.0.0.0/8;socks5://fw.example:1080";
  const config = parseBrokerConfig(
    `<secsh-broker>
  <default-settings><proxy ruleset="${ruleset}"/></default-settings>
  <profiles>
    <profile id="a" host="a.example"/>
    <profile id="b" host="b.example"><proxy ruleset="http-connect://p:3128"/></profile>
  </profiles>
</secsh-broker>`,
    "/etc/w/c.xml",
    env,
  );
  assert.equal(config.profiles[0].settings.proxy?.rules.length, 2);
  assert.equal(config.profiles[1].settings.proxy?.rules[0].proxy?.scheme, "http");
  const again = parseBrokerConfig(dumpBrokerConfig(config), "/etc/w/c.xml", env);
  assert.deepEqual(
    again.profiles.map((p) => p.settings.proxy?.ruleset),
    [ruleset, "http-connect://p:3128"],
  );
});
