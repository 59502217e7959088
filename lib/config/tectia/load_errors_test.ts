/**
 * Every mistake the config reader reports, with its exact `FILE:LINE:COL:
 * message`, and every Tectia element it ignores with a warning. Each case is
 * a body inside `<secsh-broker>` (line 1), so the body starts on line 2.
 */
import assert from "node:assert/strict";
import { parseBrokerConfig } from "./load.ts";
import { UsageError } from "../../errors.ts";
import { UNSUPPORTED, UNSUPPORTED_ATTRS } from "./unsupported.ts";

const ENV: Record<string, string> = { HOME: "/home/ann", USER: "ann" };
const env = (name: string) => ENV[name];
const parse = (body: string) =>
  parseBrokerConfig(`<secsh-broker>\n${body}\n</secsh-broker>`, "c.xml", env);

/** [what, body, the error message]. */
const ERRORS: [string, string, string][] = [
  [
    "malformed: unclosed element",
    `<profiles>
  <profile id="a" host="h">
</profiles>`,
    "c.xml:4:1: malformed XML: Expected closing tag 'profile' (opened in line 3, col 3) instead of closing tag 'profiles'",
  ],
  [
    "malformed: unquoted attribute",
    `<profiles>
  <profile id=a host="h"/>
</profiles>`,
    "c.xml:3:12: malformed XML: Attribute 'id' is without value",
  ],
  [
    "malformed: repeated attribute",
    `<profiles>
  <profile id="a" id="b" host="h"/>
</profiles>`,
    "c.xml:3:19: malformed XML: Attribute 'id' is repeated",
  ],
  [
    "unknown element at the top",
    `  <general/>
  <bogus/>`,
    "c.xml:3:3: unknown element <bogus> in <secsh-broker> (known: <general>, <default-settings>, <profiles>, <static-tunnels>, <filter-engine>, <logging>)",
  ],
  [
    "unknown element in a profile",
    `<profiles>
  <profile id="a" host="h">
    <tunnel/>
  </profile>
</profiles>`,
    "c.xml:4:5: unknown element <tunnel> in <profile> (known: <ciphers>, <macs>, <kexs>, <hostkey-algorithms>, <authentication-methods>, <idle-timeout>, <tcp-connect-timeout>, <keepalive-interval>, <server-authentication-methods>, <compression>, <proxy>, <hostkey>, <user-identities>, <password>, <tunnels>)",
  ],
  [
    "unknown attribute on a profile",
    `<profiles>
  <profile id="a" host="h" hostname="x"/>
</profiles>`,
    "c.xml:3:28: unknown attribute 'hostname' on <profile> (known: id, name, host, port, protocol, host-type, connect-on-startup, user, gateway-profile)",
  ],
  [
    "unknown attribute on a tunnel",
    `<profiles><profile id="a" host="h"><tunnels>
  <local-tunnel listen-port="1" dst-host="d" dst-port="2" bind="x"/>
</tunnels></profile></profiles>`,
    "c.xml:3:59: unknown attribute 'bind' on <local-tunnel> (known: type, listen-address, listen-port, dst-host, dst-port, allow-relay)",
  ],
  [
    "port out of range",
    `<profiles>
  <profile id="a" host="h" port="70000"/>
</profiles>`,
    "c.xml:3:28: bad port '70000': expected a whole number from 1 to 65535",
  ],
  [
    "bad value from a variable",
    `<profiles>
  <profile id="a" host="h" port="\${SSH_PORT:-x22}"/>
</profiles>`,
    "c.xml:3:28: bad port 'x22' (from '${SSH_PORT:-x22}'): expected a whole number from 1 to 65535",
  ],
  [
    "boolean other than yes/no",
    `<profiles>
  <profile id="a" host="h" connect-on-startup="true"/>
</profiles>`,
    "c.xml:3:28: bad connect-on-startup 'true': expected yes or no",
  ],
  [
    "tunnel type",
    `<profiles><profile id="a" host="h"><tunnels>
  <local-tunnel type="udp" listen-port="1" dst-host="d" dst-port="2"/>
</tunnels></profile></profiles>`,
    "c.xml:3:17: bad type 'udp': expected tcp, ftp, socks",
  ],
  [
    "host key policy",
    `<default-settings><server-authentication-methods>
  <auth-server-publickey policy="never"/>
</server-authentication-methods></default-settings>`,
    "c.xml:3:26: bad policy 'never': expected strict, ask, tofu, advisory",
  ],
  [
    "time not a whole number",
    `<default-settings>
  <idle-timeout time="1.5"/>
</default-settings>`,
    "c.xml:3:17: bad time '1.5': expected a whole number from 0 to 2147483",
  ],
  [
    "idle-timeout type",
    `<default-settings>
  <idle-timeout type="session" time="1"/>
</default-settings>`,
    "c.xml:3:17: bad type 'session': expected connection",
  ],
  [
    "local listen-port 0",
    `<profiles><profile id="a" host="h"><tunnels>
  <local-tunnel listen-port="0" dst-host="d" dst-port="2"/>
</tunnels></profile></profiles>`,
    "c.xml:3:17: bad listen-port '0': expected a whole number from 1 to 65535",
  ],
  [
    "non-loopback listen-address without allow-relay",
    `<profiles><profile id="a" host="h"><tunnels>
  <local-tunnel listen-address="0.0.0.0" listen-port="1" dst-host="d" dst-port="2"/>
</tunnels></profile></profiles>`,
    'c.xml:3:17: listen-address 0.0.0.0 is not a loopback address, but allow-relay is "no" (local clients only): set allow-relay="yes" to accept other hosts, or leave listen-address out',
  ],
  [
    "socks with a destination",
    `<profiles><profile id="a" host="h"/></profiles>
<static-tunnels>
  <tunnel type="socks" listen-port="1080" dst-port="80" profile="a"/>
</static-tunnels>`,
    "c.xml:4:43: bad dst-port '80': expected nothing: a socks tunnel's clients name their own destinations",
  ],
  [
    "profile without id",
    `<profiles>
  <profile host="h"/>
</profiles>`,
    'c.xml:3:3: <profile> needs id="..."',
  ],
  [
    "profile with empty host",
    `<profiles>
  <profile id="a" host=""/>
</profiles>`,
    "c.xml:3:19: host is empty",
  ],
  [
    "tunnel without dst-host",
    `<profiles><profile id="a" host="h"><tunnels>
  <local-tunnel listen-port="1" dst-port="2"/>
</tunnels></profile></profiles>`,
    'c.xml:3:3: <local-tunnel> needs dst-host="HOST"',
  ],
  [
    "tunnel without listen-port",
    `<profiles><profile id="a" host="h"><tunnels>
  <local-tunnel dst-host="d" dst-port="2"/>
</tunnels></profile></profiles>`,
    'c.xml:3:3: <local-tunnel> needs listen-port="PORT"',
  ],
  [
    "static tunnel without profile",
    `<static-tunnels>
  <tunnel listen-port="1" dst-host="d" dst-port="2"/>
</static-tunnels>`,
    'c.xml:3:3: <tunnel> needs profile="..."',
  ],
  [
    "known-hosts with no place",
    `<general>
  <known-hosts/>
</general>`,
    'c.xml:3:3: <known-hosts> needs file="PATH", path="PATH" or directory="PATH"',
  ],
  [
    "duplicate profile id",
    `<profiles>
  <profile id="a" host="h"/>
  <profile host="h2" id="a"/>
</profiles>`,
    "c.xml:4:22: duplicate profile id 'a' (first at 3:3)",
  ],
  [
    "duplicate profile name",
    `<profiles>
  <profile id="a" name="db" host="h"/>
  <profile id="b" name="db" host="h"/>
</profiles>`,
    "c.xml:4:19: duplicate profile name 'db' (first at 3:3)",
  ],
  [
    "a name that is another profile's id",
    `<profiles>
  <profile id="a" name="b" host="h"/>
  <profile id="b" host="h"/>
</profiles>`,
    "c.xml:3:19: profile name 'b' is the id of the profile at 4:3: as a target it would be ambiguous",
  ],
  [
    "gateway-profile to a missing id",
    `<profiles>
  <profile id="gw1" name="gw" host="g"/>
  <profile id="a" host="h" gateway-profile="gw"/>
</profiles>`,
    "c.xml:4:28: gateway-profile: no profile has the id 'gw' (the profile named 'gw' has id 'gw1')",
  ],
  [
    "gateway-profile to itself",
    `<profiles>
  <profile id="a" host="h" gateway-profile="a"/>
</profiles>`,
    "c.xml:3:28: gateway-profile cycle: a -> a",
  ],
  [
    "gateway-profile cycle of three",
    `<profiles>
  <profile id="x" host="h" gateway-profile="b"/>
  <profile id="a" host="h" gateway-profile="c"/>
  <profile id="b" host="h" gateway-profile="a"/>
  <profile id="c" host="h" gateway-profile="b"/>
</profiles>`,
    "c.xml:4:28: gateway-profile cycle: a -> c -> b -> a",
  ],
  [
    "static tunnel to a missing profile",
    `<profiles><profile id="a" host="h"/></profiles>
<static-tunnels>
  <tunnel listen-port="1" dst-host="d" dst-port="2" profile="b"/>
</static-tunnels>`,
    "c.xml:4:53: profile: no profile has the id 'b'",
  ],
  [
    "two static tunnels on one port",
    `<profiles><profile id="a" host="h"/></profiles>
<static-tunnels>
  <tunnel listen-port="8080" dst-host="d" dst-port="2" profile="a"/>
  <tunnel type="socks" listen-port="8080" profile="a"/>
</static-tunnels>`,
    "c.xml:5:3: listen port 8080 (loopback) is already used by the tunnel at 4:3",
  ],
  [
    "a static tunnel and a startup profile's tunnel on one port",
    `<profiles><profile id="a" host="h" connect-on-startup="yes"><tunnels>
  <local-tunnel listen-port="5432" dst-host="d" dst-port="2"/>
</tunnels></profile></profiles>
<static-tunnels>
  <tunnel listen-port="5432" dst-host="d" dst-port="2" profile="a"/>
</static-tunnels>`,
    "c.xml:6:3: listen port 5432 (loopback) is already used by the tunnel at 3:3",
  ],
  [
    "filter-engine rules without a socks-proxy tunnel",
    `<profiles><profile id="p" host="h"/></profiles>
<filter-engine>
  <rule host=".*" action="TUNNEL" profile-id="p"/>
</filter-engine>`,
    'c.xml:4:3: warren does not tunnel applications transparently: <filter-engine> rules route the requests of a <static-tunnels><tunnel type="socks-proxy"> only, and there is none (without one this traffic would go direct)',
  ],
  [
    "a socks-proxy tunnel without rules",
    `<static-tunnels>
  <tunnel type="socks-proxy" listen-port="1080"/>
</static-tunnels>`,
    'c.xml:3:3: a type="socks-proxy" tunnel refuses every request no <filter-engine> rule matches, and there are no rules',
  ],
  [
    "a socks-proxy tunnel naming a profile",
    `<static-tunnels>
  <tunnel type="socks-proxy" listen-port="1080" profile="p"/>
</static-tunnels>`,
    'c.xml:3:49: a type="socks-proxy" tunnel takes its connections from the <filter-engine> rules (profile-id): leave profile out',
  ],
  [
    "socks-proxy in a profile",
    `<profiles><profile id="p" host="h"><tunnels>
  <local-tunnel type="socks-proxy" listen-port="1080"/>
</tunnels></profile></profiles>`,
    'c.xml:3:17: type="socks-proxy" (the filter engine\'s SOCKS proxy) is for <static-tunnels> only: use type="socks"',
  ],
  [
    "a TUNNEL rule without profile-id",
    `<filter-engine>
  <rule host=".*" action="TUNNEL"/>
</filter-engine>`,
    'c.xml:3:3: a TUNNEL rule needs profile-id="..." (the connection to tunnel through)',
  ],
  [
    "a rule naming a missing profile",
    `<filter-engine>
  <rule action="TUNNEL" profile-id="nope"/>
</filter-engine>`,
    "c.xml:3:3: profile-id: no profile has the id 'nope'\n" +
    "c.xml:3:3: warren does not tunnel applications transparently: <filter-engine> rules " +
    'route the requests of a <static-tunnels><tunnel type="socks-proxy"> only, and there is ' +
    "none (without one this traffic would go direct)",
  ],
  [
    "a rule for one application",
    `<filter-engine>
  <rule application="firefox" action="DIRECT"/>
</filter-engine>`,
    'c.xml:3:9: application="firefox" on <rule> is not supported by warren: warren\'s proxy cannot see which program connects, so this rule would apply to all',
  ],
  [
    "an FTP-PROXY rule",
    `<filter-engine>
  <rule action="FTP-PROXY" profile-id="p"/>
</filter-engine>`,
    'c.xml:3:9: action="FTP-PROXY" on <rule> is not supported by warren: its proxy carries TCP; use an ftp/ tunnel for FTP',
  ],
  [
    "fallback-to-plain",
    `<filter-engine>
  <rule action="TUNNEL" profile-id="p" fallback-to-plain="yes"/>
</filter-engine>`,
    'c.xml:3:40: fallback-to-plain="yes" on <rule> is not supported by warren: warren never sends a tunneled connection in clear when the tunnel fails (write a DIRECT rule if that destination may go without SSH)',
  ],
  [
    "a bad regular expression",
    `<filter-engine>
  <rule host="(unclosed" action="BLOCK"/>
</filter-engine>`,
    "c.xml:3:9: host: not a regular expression: Invalid regular expression: /^(?:(unclosed)$/i: Unterminated group",
  ],
  [
    "bad ports",
    `<filter-engine>
  <rule ports="80-20" action="BLOCK"/>
</filter-engine>`,
    "c.xml:3:9: bad ports '80-20': expected a port or a range LOW-HIGH within 1-65535",
  ],
  [
    "legacy filter elements",
    `<filter-engine>
  <network id="office" address="10.0.0.0/8"/>
</filter-engine>`,
    "c.xml:3:3: <network> is not supported by warren: use <rule> elements",
  ],
  [
    "a proxy rule of an unknown type",
    `<default-settings>
  <proxy ruleset="direct://10.0.0.0/8;gopher://proxy:70/"/>
</default-settings>`,
    "c.xml:3:10: bad ruleset: unknown rule type 'gopher' in 'gopher://proxy:70/' (known: direct, socks4, socks5, http-connect)",
  ],
  [
    "a proxy rule with a bad address block",
    `<default-settings>
  <proxy ruleset="socks5://proxy/10.1.2.3/8"/>
</default-settings>`,
    "c.xml:3:10: bad ruleset: bad address block '10.1.2.3/8': host bits are set after /8",
  ],
  [
    "an http-connect rule without a port",
    `<profiles><profile id="a" host="h">
  <proxy ruleset="http-connect://proxy"/>
</profile></profiles>`,
    "c.xml:3:10: bad ruleset: http-connect needs the proxy's port: 'http-connect://proxy'",
  ],
  [
    "deprecated host key switch",
    `<general>
  <accept-unknown-host-keys/>
</general>`,
    'c.xml:3:3: <accept-unknown-host-keys> is not supported by warren: deprecated since Tectia 6.1.4; use <server-authentication-methods><auth-server-publickey policy="strict|ask|tofu|advisory"/>',
  ],
  [
    "FIPS mode",
    `<general>
  <crypto-lib mode="fips"/>
</general>`,
    'c.xml:3:15: mode="fips" on <crypto-lib> is not supported by warren: its crypto (node:crypto via ssh2) is not a FIPS 140-2 certified module',
  ],
  [
    "a password in the file",
    `<profiles><profile id="a" host="h">
  <password string="hunter2"/>
</profile></profiles>`,
    'c.xml:3:13: string="..." on <password> is not supported by warren: a password written in the config can be read by whoever reads the config; keep it in a file (file="PATH", mode 0600) or a program (command="...")',
  ],
  [
    "two passwords",
    `<profiles><profile id="a" host="h">
  <password file="p"/>
  <authentication-methods><auth-password><password command="c"/></auth-password></authentication-methods>
</profile></profiles>`,
    "c.xml:4:42: a second <password> (first at 3:3)",
  ],
  [
    "an identity by hash",
    `<profiles><profile id="a" host="h"><user-identities>
  <identity hash="#abc"/>
</user-identities></profile></profiles>`,
    'c.xml:3:13: hash="#abc" on <identity> is not supported by warren: it reads no key stores; name the private key file with file="PATH"',
  ],
  [
    "host * (prompt)",
    `<profiles>
  <profile id="a" host="*"/>
</profiles>`,
    'c.xml:3:19: host="*" on <profile> is not supported by warren: it does not ask for a host at connect time; name the host',
  ],
  [
    "user * (prompt)",
    `<default-settings
 user="*"/>`,
    'c.xml:3:2: user="*" on <default-settings> is not supported by warren: it does not ask for a user at connect time; name the user',
  ],
  [
    "%IU in a value",
    `<profiles>
  <profile id="a" host="h"><hostkey file="/run/%IU/k"/></profile>
</profiles>`,
    "c.xml:3:37: file: %IU is not supported (warren does not look up group names or numeric ids)",
  ],
  [
    "an unterminated variable",
    `<profiles>
  <profile id="a" host="\${HOST"/>
</profiles>`,
    "c.xml:3:19: host: unterminated ${ in '${HOST'",
  ],
  [
    "a setting twice",
    `<default-settings>
  <keepalive-interval time="1"/>
  <keepalive-interval time="2"/>
</default-settings>`,
    "c.xml:4:3: duplicate <keepalive-interval> in <default-settings> (first at 3:3)",
  ],
  [
    "a cipher twice",
    `<default-settings><ciphers>
  <cipher name="aes128-ctr"/>
  <cipher name="aes128-ctr"/>
</ciphers></default-settings>`,
    "c.xml:4:11: cipher 'aes128-ctr' listed twice (first at 3:11)",
  ],
  [
    "only ciphers warren lacks",
    `<default-settings>
  <ciphers><cipher name="crypticore128@ssh.com"/></ciphers>
</default-settings>`,
    'warning: c.xml:3:20: name="crypticore128@ssh.com" on <cipher> is not supported by warren: it does not implement this cipher (ignored)\n' +
    "c.xml:3:3: <ciphers> names no cipher warren implements (it has: aes128-gcm@openssh.com, aes256-gcm@openssh.com, aes128-ctr, aes192-ctr, aes256-ctr, chacha20-poly1305@openssh.com, aes256-cbc, aes128-cbc, 3des-cbc, aes128-gcm, aes256-gcm)",
  ],
  [
    "an auth method twice",
    `<default-settings><authentication-methods>
  <auth-publickey/>
  <auth-publickey/>
</authentication-methods></default-settings>`,
    "c.xml:4:3: authentication method publickey listed twice (first at 3:3)",
  ],
  [
    "only auth methods warren lacks",
    `<default-settings>
  <authentication-methods><auth-gssapi/></authentication-methods>
</default-settings>`,
    "warning: c.xml:3:27: <auth-gssapi> is not supported by warren: warren does not do GSSAPI (Kerberos) authentication (ignored)\n" +
    "c.xml:3:3: <authentication-methods> lists no method warren supports (auth-publickey, auth-keyboard-interactive, auth-password)",
  ],
  [
    "text in an element",
    `<profiles>
  <profile id="a" host="h">oops</profile>
</profiles>`,
    "c.xml:3:3: unexpected text in <profile>",
  ],
  [
    "log file without a name",
    `<logging>
  <log-target type="file"/>
</logging>`,
    'c.xml:3:3: <log-target> needs file="..."',
  ],
  [
    "two general elements",
    `<general/>
<general/>`,
    "c.xml:3:1: duplicate <general> in <secsh-broker> (first at 2:1)",
  ],
];

for (const [what, body, message] of ERRORS) {
  Deno.test(`a config error is FILE:LINE:COL: message: ${what}`, () => {
    assert.throws(() => parse(body), (err) => {
      assert.ok(err instanceof UsageError, String(err));
      assert.equal(err.message, message);
      return true;
    });
  });
}

Deno.test("malformed documents: one line with the position", () => {
  const cases: [string, string][] = [
    ["", "c.xml:1:1: malformed XML: no root element"],
    ["<!-- nothing -->", "c.xml:1:1: malformed XML: no root element"],
    ["<secsh-broker>", "c.xml:1:1: malformed XML: Unclosed tag 'secsh-broker'"],
    [
      "<secsh-broker>\n  <profiles>",
      "c.xml:1:1: malformed XML: Unclosed tags 'secsh-broker', 'profiles'",
    ],
    ["<secsh-broker/>\n<secsh-broker/>", "c.xml:2:1: malformed XML: a second root element"],
    ["<config/>", "c.xml:1:1: the root element is <config>; expected <secsh-broker>"],
    [
      '<secsh-broker version="two"/>',
      "c.xml:1:15: bad version 'two': expected a version number such as 1.0 or 6.4",
    ],
    [
      "\r\n\r\n  <secsh-broker>\r\n <x></y>",
      "c.xml:4:5: malformed XML: Expected closing tag 'x' (opened in line 4, col 2) instead of closing tag 'y'",
    ],
    // A byte order mark is not a column.
    [
      "\ufeff<secsh-broker>\n <bogus/></secsh-broker>",
      "c.xml:2:2: unknown element <bogus> in <secsh-broker> (known: <general>, <default-settings>, <profiles>, <static-tunnels>, <filter-engine>, <logging>)",
    ],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseBrokerConfig(text, "c.xml", env), { name: "ConfigError", message });
  }
});

/** [what, body, the first warning]: Tectia elements warren reads and ignores. */
const WARNINGS: [string, string, string][] = [
  [
    "gui",
    `<gui/>`,
    "c.xml:2:1: <gui> is not supported by warren: warren has no GUI (ignored)",
  ],
  [
    "pseudo-IP pools",
    `<filter-engine ip-generate-start="127.1.0.1"/>`,
    'c.xml:2:16: ip-generate-start="127.1.0.1" on <filter-engine> is not supported by warren: it hands out no pseudo IPs (ignored)',
  ],
  [
    "cert-validation",
    `<general>
  <cert-validation/>
</general>`,
    "c.xml:3:3: <cert-validation> is not supported by warren: warren accepts no certificates, so servers known only by certificate are refused (ignored)",
  ],
  [
    "key-stores",
    `<general>
  <key-stores><key-store type="software"/></key-stores>
</general>`,
    "c.xml:3:3: <key-stores> is not supported by warren: keys are read only from <user-identities><identity file>, the agent and ~/.ssh (ignored)",
  ],
  [
    "user-config-directory",
    `<general>
  <user-config-directory path="/x"/>
</general>`,
    "c.xml:3:3: <user-config-directory> is not supported by warren: warren reads only the files this config names (ignored)",
  ],
  [
    "rekey",
    `<default-settings>
  <rekey bytes="0"/>
</default-settings>`,
    "c.xml:3:3: <rekey> is not supported by warren: warren does not start rekeying by byte count (the server's rekeying works) (ignored)",
  ],
  [
    "forwards",
    `<profiles><profile id="a" host="h">
  <forwards><forward type="agent" state="on"/></forwards>
</profile></profiles>`,
    "c.xml:3:3: <forwards> is not supported by warren: warren opens no session, so there is no X11 or agent to forward (ignored)",
  ],
  [
    "address-family",
    `<default-settings>
  <address-family type="inet"/>
</default-settings>`,
    "c.xml:3:3: <address-family> is not supported by warren: warren connects over whichever of IPv4 and IPv6 answers (ignored)",
  ],
  [
    "gssapi among other methods",
    `<default-settings><authentication-methods>
  <auth-gssapi/>
  <auth-publickey/>
</authentication-methods></default-settings>`,
    "c.xml:3:3: <auth-gssapi> is not supported by warren: warren does not do GSSAPI (Kerberos) authentication (ignored)",
  ],
  [
    "legacy hostbased",
    `<default-settings><authentication-methods>
  <authentication-method name="hostbased"/>
  <auth-password/>
</authentication-methods></default-settings>`,
    'c.xml:3:26: name="hostbased" on <authentication-method> is not supported by warren: it does not do hostbased authentication (ignored)',
  ],
  [
    "key-selection",
    `<default-settings><authentication-methods>
  <auth-publickey><key-selection policy="automatic"/></auth-publickey>
</authentication-methods></default-settings>`,
    "c.xml:3:19: <key-selection> is not supported by warren: warren tries keys in order: agent, identity files, ~/.ssh (ignored)",
  ],
  [
    "host certificates",
    `<default-settings><server-authentication-methods>
  <auth-server-certificate/>
  <auth-server-publickey policy="strict"/>
</server-authentication-methods></default-settings>`,
    "c.xml:3:3: <auth-server-certificate> is not supported by warren: warren accepts no host certificates; host keys are checked instead (ignored)",
  ],
  [
    "a cipher warren lacks",
    `<default-settings><ciphers>
  <cipher name="crypticore128@ssh.com"/>
  <cipher name="aes128-ctr"/>
</ciphers></default-settings>`,
    'c.xml:3:11: name="crypticore128@ssh.com" on <cipher> is not supported by warren: it does not implement this cipher (ignored)',
  ],
  [
    "host-type",
    `<profiles>
  <profile id="a" host="h" host-type="windows"/>
</profiles>`,
    'c.xml:3:28: host-type="windows" on <profile> is not supported by warren: it opens no session, so there is no ASCII transfer (ignored)',
  ],
  [
    "event names",
    `<logging>
  <log-events severity="notice">Broker_start Broker_exit</log-events>
</logging>`,
    "c.xml:3:3: choosing events by name is not supported by warren: every event at info or above is logged (event names ignored)",
  ],
  [
    "facility",
    `<logging>
  <log-events facility="daemon" severity="info"/>
</logging>`,
    'c.xml:3:15: facility="daemon" on <log-events> is not supported by warren: events have no facility (ignored)',
  ],
  [
    "filename-format on a file",
    `<general>
  <known-hosts file="/kh" filename-format="plain"/>
</general>`,
    'c.xml:3:27: filename-format="plain" on <known-hosts> is not supported by warren: it never writes host key directories (new keys go to a known_hosts file) (ignored)',
  ],
];

for (const [what, body, warning] of WARNINGS) {
  Deno.test(`an ignored Tectia setting is a warning with its position: ${what}`, () => {
    assert.deepEqual(parse(body).warnings, [warning]);
  });
}

Deno.test("Tectia host key directories are read (a trailing /); with only them, a warning", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const config = parse(`<general>
  <known-hosts path="${dir}"/>
  <known-hosts directory="/nonexistent/hostkeys"/>
</general>`);
    assert.deepEqual(config.knownHostsFiles, [`${dir}/`, "/nonexistent/hostkeys/"]);
    assert.deepEqual(config.warnings, [
      "c.xml:2:1: only Tectia host key directories are named: warren reads them but never " +
      'writes there, so no new host key is saved (add <known-hosts file="~/.ssh/known_hosts"/> ' +
      "for that)",
    ]);
    // file= naming a directory is Tectia's error too.
    assert.throws(
      () => parse(`<general><known-hosts file="${dir}"/></general>`),
      /names a directory: a Tectia host key directory is path= or directory=/,
    );
  } finally {
    Deno.removeSync(dir);
  }
});

Deno.test("config/REFERENCE.md names every unsupported Tectia element and every element of the example", async () => {
  const reference = await Deno.readTextFile(
    new URL("../../../config/REFERENCE.md", import.meta.url),
  );
  for (const scope of [...Object.values(UNSUPPORTED), ...Object.values(UNSUPPORTED_ATTRS)]) {
    for (const name of Object.keys(scope)) assert.ok(reference.includes(name), name);
  }
  const example = await Deno.readTextFile(
    new URL("../../../config/ssh-broker-config.xml", import.meta.url),
  );
  const withoutComments = example.replace(/<!--[\s\S]*?-->/g, "");
  for (const [, name] of withoutComments.matchAll(/<([a-z][a-z-]*)/g)) {
    assert.ok(reference.includes(`<${name}`), `<${name}>`);
  }
});
