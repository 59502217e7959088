import assert from "node:assert/strict";
import { formatForward, type ForwardSpec, parseForward } from "./forward.ts";
import { UsageError } from "../errors.ts";

const VALID: [string, ForwardSpec][] = [
  ["8080:localhost:80", { protocol: "tcp", listenPort: 8080, dstHost: "localhost", dstPort: 80 }],
  ["1234:localhost:23", { protocol: "tcp", listenPort: 1234, dstHost: "localhost", dstPort: 23 }],
  ["tcp/143:imapserver:143", {
    protocol: "tcp",
    listenPort: 143,
    dstHost: "imapserver",
    dstPort: 143,
  }],
  ["TCP/0:db.internal:5432", {
    protocol: "tcp",
    listenPort: 0,
    dstHost: "db.internal",
    dstPort: 5432,
  }],
  ["127.0.0.1:8080:10.0.0.5:80", {
    protocol: "tcp",
    listenAddress: "127.0.0.1",
    listenPort: 8080,
    dstHost: "10.0.0.5",
    dstPort: 80,
  }],
  ["[::1]:8080:[2001:db8::5]:80", {
    protocol: "tcp",
    listenAddress: "::1",
    listenPort: 8080,
    dstHost: "2001:db8::5",
    dstPort: 80,
  }],
  ["2001:[::1]:2002", { protocol: "tcp", listenPort: 2001, dstHost: "::1", dstPort: 2002 }],
  ["*:8080:web:80", {
    protocol: "tcp",
    listenAddress: "*",
    listenPort: 8080,
    dstHost: "web",
    dstPort: 80,
  }],
  ["localhost:65535:a-b.example_c:1", {
    protocol: "tcp",
    listenAddress: "localhost",
    listenPort: 65535,
    dstHost: "a-b.example_c",
    dstPort: 1,
  }],
  ["ftp/1234:localhost:21", {
    protocol: "ftp",
    listenPort: 1234,
    dstHost: "localhost",
    dstPort: 21,
  }],
  ["FTP/[fe80::1%eth0]:2121:ftp.example:21", {
    protocol: "ftp",
    listenAddress: "fe80::1%eth0",
    listenPort: 2121,
    dstHost: "ftp.example",
    dstPort: 21,
  }],
  ["socks/1080", { protocol: "socks", listenPort: 1080 }],
  ["socks/0.0.0.0:1080", { protocol: "socks", listenAddress: "0.0.0.0", listenPort: 1080 }],
  ["socks/[::]:1080", { protocol: "socks", listenAddress: "::", listenPort: 1080 }],
  ["dns/5353:10.0.0.53", { protocol: "dns", listenPort: 5353, dstHost: "10.0.0.53", dstPort: 53 }],
  ["DNS/5353:ns.corp:5300", {
    protocol: "dns",
    listenPort: 5353,
    dstHost: "ns.corp",
    dstPort: 5300,
  }],
  ["dns/127.0.0.2:53:ns.corp", {
    protocol: "dns",
    listenAddress: "127.0.0.2",
    listenPort: 53,
    dstHost: "ns.corp",
    dstPort: 53,
  }],
  ["dns/[::1]:0:[fd00::53]:53", {
    protocol: "dns",
    listenAddress: "::1",
    listenPort: 0,
    dstHost: "fd00::53",
    dstPort: 53,
  }],
  // OpenSSH's Unix domain socket forms.
  ["/run/l.sock:db:5432", {
    protocol: "tcp",
    listenPort: 0,
    listenPath: "/run/l.sock",
    dstHost: "db",
    dstPort: 5432,
  }],
  ["2375:/var/run/docker.sock", {
    protocol: "tcp",
    listenPort: 2375,
    dstPath: "/var/run/docker.sock",
  }],
  ["[::1]:0:/run/postgresql/.s.PGSQL.5432", {
    protocol: "tcp",
    listenAddress: "::1",
    listenPort: 0,
    dstPath: "/run/postgresql/.s.PGSQL.5432",
  }],
  ["./here.sock:[2001:db8::5]:80", {
    protocol: "tcp",
    listenPort: 0,
    listenPath: "./here.sock",
    dstHost: "2001:db8::5",
    dstPort: 80,
  }],
  ["../a.sock:/b.sock", {
    protocol: "tcp",
    listenPort: 0,
    listenPath: "../a.sock",
    dstPath: "/b.sock",
  }],
  ["tcp//x.sock:h:1", {
    protocol: "tcp",
    listenPort: 0,
    listenPath: "/x.sock",
    dstHost: "h",
    dstPort: 1,
  }],
];

for (const [text, spec] of VALID) {
  Deno.test(`parseForward() parses '${text}'`, () => {
    assert.deepEqual(parseForward(text), spec);
  });
}

Deno.test("formatForward() round-trips every valid form", () => {
  for (const [text, spec] of VALID) {
    const formatted = formatForward(spec);
    assert.deepEqual(parseForward(formatted), spec, `${text} -> ${formatted}`);
    assert.equal(formatForward(parseForward(formatted)), formatted);
  }
});

Deno.test("formatForward() writes the canonical form", () => {
  assert.equal(formatForward(parseForward("TCP/8080:h:80")), "8080:h:80");
  assert.equal(formatForward(parseForward("[::1]:1:[::2]:2")), "[::1]:1:[::2]:2");
  assert.equal(formatForward(parseForward("SOCKS/1080")), "socks/1080");
  assert.equal(formatForward(parseForward("TCP//l.sock:[::1]:80")), "/l.sock:[::1]:80");
  assert.equal(formatForward(parseForward("DNS/5353:ns")), "dns/5353:ns:53");
});

const INVALID: [string, RegExp][] = [
  ["", /expected/],
  ["8080", /expected \[listen-address:\]listen-port:dst-host:dst-port/],
  ["8080:host", /expected/],
  ["a:b:c:d:e", /expected/],
  ["99999:h:80", /port 99999 is out of range/],
  ["8080:h:0", /port 0 is out of range \(1-65535\)/],
  ["8080:h:65536", /out of range/],
  ["-1:h:80", /not a port number/],
  ["80a:h:80", /not a port number/],
  ["8080::80", /empty address/],
  ["8080:h h:80", /not a valid host name/],
  ["8080:*:80", /'\*' is not a destination host/],
  ["[::1:8080:h:80", /unmatched '\['/],
  ["::1]:8080:h:80", /unmatched '\]'/],
  ["[[::1]]:1:h:2", /nested/],
  ["[10.0.0.1]:1:h:2", /not a valid IPv6 address/],
  ["[]:1:h:2", /not a valid IPv6 address/],
  ["udp/53:dns:53", /unknown protocol 'udp' \(use tcp\/, ftp\/, socks\/ or dns\/\)/],
  ["socks/1:h:2", /socks\/ takes only/],
  ["socks/", /not a port number/],
  ["socks/70000", /out of range/],
  ["dns/5353", /expected dns\/\[listen-address:\]listen-port:resolver-host/],
  ["dns/1:2:3:4:5", /expected dns\//],
  ["dns/5353:*", /'\*' is not a resolver host/],
  ["dns/5353:h:0", /out of range/],
  ["/a.sock", /expected \/path\.sock:dst-host:dst-port/],
  ["/a.sock:h", /expected \/path\.sock:dst-host:dst-port/],
  ["h:/a.sock", /not a port number/],
  ["127.0.0.1:/a.sock:h:80", /a socket path cannot follow a listen address/],
  ["1:/a.sock:80", /a socket path is not a host/],
  ["ftp//a.sock:h:21", /for tcp tunnels only/],
  ["socks//a.sock", /for tcp tunnels only/],
  ["/dir/:h:1", /is not a socket path/],
  [`/${"x".repeat(120)}.sock:h:1`, /too long/],
];

for (const [text, pattern] of INVALID) {
  Deno.test(`parseForward() rejects '${text}'`, () => {
    assert.throws(() => parseForward(text, "-L"), (err: unknown) => {
      assert.ok(err instanceof UsageError, `not a UsageError: ${err}`);
      assert.match(err.message, pattern);
      assert.ok(err.message.startsWith(`Invalid -L '${text}'`), err.message);
      assert.ok(!err.message.includes("\n"));
      return true;
    });
  });
}
