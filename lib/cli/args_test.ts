import assert from "node:assert/strict";
import { parseCommandLine } from "./args.ts";
import { parseTarget } from "./target.ts";
import { ConfigError, UsageError } from "../errors.ts";
import { hostMatches, type SshConfig } from "../config/openssh/ssh_config.ts";
import { expandProxyCommand } from "../ssh/proxy_command.ts";
import type { ClientConfig, ProfileLayer } from "../profiles/client_config.ts";

const ENV: Record<string, string> = { HOME: "/home/ann", USER: "ann" };
const env = (name: string) => ENV[name];

function run(...argv: string[]): ClientConfig {
  const r = parseCommandLine(argv, env);
  assert.equal(r.kind, "run");
  return (r as { config: ClientConfig }).config;
}

function usage(argv: string[], pattern: RegExp): void {
  assert.throws(() => parseCommandLine(argv, env), (err: unknown) => {
    assert.ok(err instanceof UsageError, `expected UsageError, got ${err}`);
    assert.match(err.message, pattern);
    return true;
  });
}

Deno.test("parseCommandLine() applies defaults", () => {
  const c = run("bastion");
  assert.equal(c.host, "bastion");
  assert.equal(c.port, 22);
  assert.equal(c.user, "ann");
  assert.equal(c.hostKeyPolicy, "ask");
  assert.deepEqual(c.knownHostsFiles, ["/home/ann/.ssh/known_hosts", "/etc/ssh/ssh_known_hosts"]);
  assert.equal(c.serverAliveInterval, 30);
  assert.equal(c.serverAliveCountMax, 3);
  assert.equal(c.connectTimeout, 15);
  assert.equal(c.gateway, false);
  assert.equal(c.abortOnFailingTunnel, false);
  assert.equal(c.command, undefined);
  assert.equal(c.verbosity, 0);
});

Deno.test("parseCommandLine() reads the sshg3 example with -L, abort, -S and -f", () => {
  const c = run(
    "-L",
    "2345:localhost:2345",
    "--abort-on-failing-tunnel",
    "user1@unix.example.com",
    "-S",
    "-f",
  );
  assert.equal(c.user, "user1");
  assert.equal(c.host, "unix.example.com");
  assert.equal(c.abortOnFailingTunnel, true);
  assert.equal(c.background, true);
  assert.deepEqual(c.localForwards, [{
    protocol: "tcp",
    listenPort: 2345,
    dstHost: "localhost",
    dstPort: 2345,
  }]);
});

Deno.test("parseCommandLine() takes host#port, ssh:// and -p/-l (flags win)", () => {
  assert.equal(run("h#2222").port, 2222);
  const u = run("ssh://bob@[::1]:2200");
  assert.deepEqual([u.user, u.host, u.port], ["bob", "::1", 2200]);
  const c = run("-p", "2022", "-l", "carol", "dave@h#2222", "-o", "Port=1", "-o", "User=x");
  assert.deepEqual([c.user, c.port], ["carol", 2022]);
  const o = run("-o", "Port=2201", "-o", "Port=2202", "-oUser=eve", "h");
  assert.deepEqual([o.user, o.port], ["eve", 2201]);
});

Deno.test("parseCommandLine() maps -o options", () => {
  const c = run(
    "-o",
    "StrictHostKeyChecking=accept-new",
    "-o",
    "serveraliveinterval 10",
    "-o",
    "ServerAliveCountMax=5",
    "-o",
    "ConnectTimeout=3",
    "-o",
    "ExitOnForwardFailure=yes",
    "-o",
    "GatewayPorts=yes",
    "-o",
    "PidFile=~/w.pid",
    "-o",
    "IdentityFile=~/.ssh/k",
    "-o",
    "UserKnownHostsFile=/tmp/kh",
    "h",
  );
  assert.equal(c.hostKeyPolicy, "tofu");
  assert.equal(c.serverAliveInterval, 10);
  assert.equal(c.serverAliveCountMax, 5);
  assert.equal(c.connectTimeout, 3);
  assert.equal(c.abortOnFailingTunnel, true);
  assert.equal(c.gateway, true);
  assert.equal(c.pidFile, "/home/ann/w.pid");
  assert.deepEqual(c.identityFiles, ["/home/ann/.ssh/k"]);
  assert.deepEqual(c.knownHostsFiles, ["/tmp/kh", "/etc/ssh/ssh_known_hosts"]);
});

Deno.test("-o Ciphers takes a list of ciphers ssh2 knows and refuses others by name", () => {
  assert.equal(run("h").ciphers, undefined);
  assert.deepEqual(
    run("-o", "Ciphers=chacha20-poly1305@openssh.com,aes256-gcm@openssh.com", "h").ciphers,
    ["chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com"],
  );
  assert.throws(
    () => run("-o", "Ciphers=aes128-gcm@openssh.com,rot13", "h"),
    /^UsageError: Invalid -o Ciphers='aes128-gcm@openssh.com,rot13': unknown cipher rot13 \(known: /,
  );
});

Deno.test("-o PreferredAuthentications: the methods warren implements, in the order given", () => {
  assert.equal(run("h").authMethods, undefined);
  assert.deepEqual(
    run("-o", "PreferredAuthentications=password,gssapi-with-mic,publickey,password", "h")
      .authMethods,
    ["password", "publickey"],
  );
  assert.throws(
    () => run("-o", "PreferredAuthentications=publickey,smartcard", "h"),
    /^UsageError: Invalid -o PreferredAuthentications='publickey,smartcard': unknown method 'smartcard' \(known: publickey, keyboard-interactive, password, gssapi-with-mic, hostbased\)/,
  );
  assert.throws(
    () => run("-o", "PreferredAuthentications=hostbased", "h"),
    /none of these methods is one warren implements/,
  );
});

Deno.test("StrictHostKeyChecking maps onto host key policies; --hostkey-policy wins", () => {
  const map = { yes: "strict", "accept-new": "tofu", no: "advisory", ask: "ask" };
  for (const [v, policy] of Object.entries(map)) {
    assert.equal(run("-o", `StrictHostKeyChecking=${v}`, "h").hostKeyPolicy, policy);
  }
  assert.equal(
    run("-o", "StrictHostKeyChecking=no", "--hostkey-policy=strict", "h").hostKeyPolicy,
    "strict",
  );
});

Deno.test("parseCommandLine() collects repeated -L, -R, -i and -v", () => {
  const c = run(
    "-L",
    "1:a:1",
    "-L8080:b:80",
    "-R",
    "0:localhost:3000",
    "-i",
    "/k1",
    "-i",
    "/k2",
    "-vv",
    "h",
  );
  assert.equal(c.localForwards.length, 2);
  assert.equal(c.remoteForwards[0].listenPort, 0);
  assert.deepEqual(c.identityFiles, ["/k1", "/k2"]);
  assert.equal(c.verbosity, 2);
  assert.equal(run("-q", "h").verbosity, -1);
  assert.equal(run("-D", "5", "h").verbosity, 3);
  assert.equal(run("-D", "2", "h").verbosity, 2);
  assert.equal(run("--debug=1", "h").verbosity, 1);
});

Deno.test("parseCommandLine() accepts ftp/ tunnels for -L and -R", () => {
  const c = run("-L", "ftp/2121:localhost:21", "-R", "FTP/127.0.0.1:0:ftp.lan:21", "h");
  assert.deepEqual(c.localForwards, [
    { protocol: "ftp", listenPort: 2121, dstHost: "localhost", dstPort: 21 },
  ]);
  assert.deepEqual(c.remoteForwards, [
    { protocol: "ftp", listenAddress: "127.0.0.1", listenPort: 0, dstHost: "ftp.lan", dstPort: 21 },
  ]);
});

Deno.test("parseCommandLine() splits the local command at --", () => {
  const c = run("-L", "5432:db:5432", "bastion", "--", "npm", "test", "--", "-x");
  assert.deepEqual(c.command, ["npm", "test", "--", "-x"]);
});

Deno.test("parseCommandLine() returns help and version", () => {
  assert.equal(parseCommandLine(["-h"], env).kind, "help");
  assert.equal(parseCommandLine(["--version"], env).kind, "version");
});

Deno.test("--route: rules for socks/ tunnels, kept in order", () => {
  assert.equal(run("-L", "socks/1080", "h").routes, undefined);
  const c = run("-L", "socks/1080", "--route", "direct:*.lan", "--route=block:*:25", "h");
  assert.deepEqual(c.routes?.map((r) => [r.action, r.text]), [
    ["direct", "direct:*.lan"],
    ["block", "block:*:25"],
  ]);
  // A reverse proxy tunnel (-R socks/) takes routes and --proxy-auth too.
  const r = run("-R", "socks/0", "--route", "block:*:25", "--proxy-auth=bob:env://PW", "h");
  assert.deepEqual(r.remoteForwards, [{ protocol: "socks", listenPort: 0 }]);
  assert.equal(r.routes?.length, 1);
  assert.equal(r.proxyAuth?.user, "bob");
});

Deno.test("parseCommandLine() accepts password sources only", () => {
  assert.equal(run("-P", "env://PW", "h").passwordSource, "env://PW");
  assert.equal(run("--password=file:///tmp/pw", "h").passwordSource, "file:///tmp/pw");
  usage(["-P", "hunter2", "h"], /file:\/\/PATH, env:\/\/VAR or extprog:\/\/COMMAND/);
});

Deno.test("parseCommandLine() reports usage errors in one line", () => {
  const cases: [string[], RegExp][] = [
    [[], /Missing destination/],
    [["--bogus", "h"], /Unknown option '--bogus'/],
    [["-L"], /argument missing/],
    [["-L", "nope", "h"], /Invalid -L 'nope'/],
    [["-L", "socks/1080", "--proxy-auth=bob:hunter2", "h"], /Invalid --proxy-auth/],
    [["-L", "socks/1080", "--route", "relay:*", "h"], /Invalid --route 'relay:\*': expected/],
    [["-L", "1:h:1", "--route", "direct:*", "h"], /--route needs a proxy tunnel/],
    [["-R", "1:h:1", "--proxy-auth=bob:env://PW", "h"], /--proxy-auth needs a proxy tunnel/],
    [["-L", "1:h:1", "--ftp-trust-pasv-address", "h"], /--ftp-trust-pasv-address needs an FTP/],
    [["-o", "ForwardAgent=yes", "h"], /Unknown -o option 'ForwardAgent'/],
    [["-o", "Port", "h"], /Invalid -o 'Port'/],
    [["-o", "Port=x", "h"], /not a port number/],
    [["-o", "StrictHostKeyChecking=maybe", "h"], /expected yes, accept-new, no or ask/],
    [["-o", "ServerAliveCountMax=0", "h"], /at least 1/],
    [["--hostkey-policy=trusting", "h"], /expected ask, strict, tofu or advisory/],
    [["-D", "1080", "h"], /use -L socks\/1080/],
    [["-D", "localhost:1080", "h"], /use -L socks\/localhost:1080/],
    [["-D", "lots", "h"], /expected a level 0-99/],
    [["-p", "0", "h"], /out of range/],
    [["h", "uptime"], /a local command goes after '--'/],
    [["h", "--"], /Missing command after '--'/],
    [["-f", "h", "--", "true"], /cannot be combined/],
    [["@h"], /empty user/],
    [["u@"], /missing host/],
    [["h#99999"], /out of range/],
    [["ssh://h/path"], /unexpected path/],
  ];
  for (const [argv, pattern] of cases) {
    usage(argv, pattern);
    try {
      parseCommandLine(argv, env);
    } catch (err) {
      assert.ok(!(err as Error).message.includes("\n"), (err as Error).message);
    }
  }
});

Deno.test("parseTarget() accepts the target forms", () => {
  assert.deepEqual(parseTarget("h"), { user: undefined, host: "h", port: undefined });
  assert.deepEqual(parseTarget("u@h#2"), { user: "u", host: "h", port: 2 });
  assert.deepEqual(parseTarget("u@::1#2"), { user: "u", host: "::1", port: 2 });
  assert.deepEqual(parseTarget("[::1]#22"), { user: undefined, host: "::1", port: 22 });
  assert.deepEqual(parseTarget("a@b@h"), { user: "a@b", host: "h", port: undefined });
  assert.deepEqual(parseTarget("ssh://h"), { user: undefined, host: "h", port: undefined });
  assert.deepEqual(parseTarget("ssh://u%40x@h:2/"), { user: "u@x", host: "h", port: 2 });
});

Deno.test("parseTarget() refuses host:port with the way to write the port", () => {
  assert.throws(
    () => parseTarget("root@127.0.0.1:2222"),
    (err: Error) =>
      err instanceof UsageError &&
      err.message ===
        "Invalid target 'root@127.0.0.1:2222': a port goes after '#' (root@127.0.0.1#2222) " +
          "or in -p 2222",
  );
  assert.throws(() => parseTarget("h:"), /a port goes after '#' \(h#PORT\) or in -p PORT/);
  assert.throws(() => parseTarget("h:ssh"), /bad host name .h:ssh./);
  assert.throws(() => parseTarget("ab:cd"), /bad host name .ab:cd./);
  assert.deepEqual(parseTarget("fe80::1#22"), { user: undefined, host: "fe80::1", port: 22 });
});

Deno.test("parseCommandLine() with a profile layer: the command line wins, -L/-R add", () => {
  const layer: ProfileLayer = {
    host: "db.internal",
    port: 2200,
    user: "pg",
    identityFiles: ["/k/db"],
    hostKeyPolicy: "strict",
    knownHostsFiles: ["/kh"],
    serverAliveInterval: 9,
    connectTimeout: 4,
    localForwards: [{ protocol: "tcp", listenPort: 5432, dstHost: "localhost", dstPort: 5432 }],
    remoteForwards: [],
  };
  const run = (...argv: string[]) => {
    const r = parseCommandLine(argv, env, layer);
    assert.equal(r.kind, "run");
    return (r as { config: ClientConfig }).config;
  };
  const plain = run("Database");
  assert.deepEqual(
    [plain.host, plain.port, plain.user, plain.identityFiles, plain.hostKeyPolicy],
    ["db.internal", 2200, "pg", ["/k/db"], "strict"],
  );
  assert.deepEqual([plain.knownHostsFiles, plain.serverAliveInterval, plain.connectTimeout], [
    ["/kh"],
    9,
    4,
  ]);
  assert.equal(plain.localForwards.length, 1);
  const over = run(
    ...["-p", "22", "-l", "root", "-i", "/k/other", "--hostkey-policy=tofu"],
    ...["-o", "ServerAliveInterval=1", "-L", "8080:web:80", "Database"],
  );
  assert.deepEqual(
    [over.port, over.user, over.identityFiles, over.hostKeyPolicy, over.serverAliveInterval],
    [22, "root", ["/k/other"], "tofu", 1],
  );
  assert.deepEqual(over.localForwards.map((f) => f.listenPort), [5432, 8080]);
  assert.equal(run("-o", "User=u", "Database").user, "u");
});

Deno.test("-o MACs, KexAlgorithms, HostKeyAlgorithms: lists, +, - and ^ forms; unknown names refused", () => {
  const macs = run("-o", "MACs=hmac-sha2-256", "h").macs;
  assert.deepEqual(macs, ["hmac-sha2-256"]);
  const plus = run("-o", "KexAlgorithms=+diffie-hellman-group14-sha1", "h").kexs!;
  assert.equal(plus.at(-1), "diffie-hellman-group14-sha1");
  assert.ok(plus.length > 1);
  const minus = run("-o", "MACs=-hmac-sha1*", "h").macs!;
  assert.ok(minus.length > 0 && minus.every((m) => !m.startsWith("hmac-sha1")), minus.join());
  const first = run("-o", "HostKeyAlgorithms=^rsa-sha2-512", "h").hostKeyAlgorithms!;
  assert.equal(first[0], "rsa-sha2-512");
  assert.equal(first.filter((a) => a === "rsa-sha2-512").length, 1);
  assert.throws(
    () => run("-o", "MACs=umac-64@openssh.com", "h"),
    /^UsageError: Invalid -o MACs='umac-64@openssh.com': unknown MAC umac-64@openssh.com \(known: /,
  );
  assert.throws(
    () => run("-o", "KexAlgorithms=-*", "h"),
    /Invalid -o KexAlgorithms='-\*': leaves no key exchange to offer/,
  );
});

Deno.test("-J and -o ProxyJump: jump hosts in OpenSSH's and sshg3's forms; -J wins", () => {
  const c = run("-J", "bastion,ops@inner:2222,[::1]:2200,deploy@10.0.0.9#22", "target");
  assert.deepEqual(c.jumps, [
    { host: "bastion", port: 22, user: "ann" },
    { host: "inner", port: 2222, user: "ops" },
    { host: "::1", port: 2200, user: "ann" },
    { host: "10.0.0.9", port: 22, user: "deploy" },
  ]);
  assert.deepEqual(run("-o", "ProxyJump=ssh://j@hop:2", "t").jumps, [
    { host: "hop", port: 2, user: "j" },
  ]);
  assert.deepEqual(run("-J", "a", "-o", "ProxyJump=b", "t").jumps, [
    { host: "a", port: 22, user: "ann" },
  ]);
  assert.deepEqual(run("-J", "none", "t").jumps, []);
  assert.equal(run("t").jumps, undefined);
});

Deno.test("-J: bad values are one usage line each", () => {
  usage(["-J", "a,,b", "t"], /^Invalid -J 'a,,b': empty jump host$/);
  usage(["-J", "@a", "t"], /^Invalid -J '@a': empty user in '@a'$/);
  usage(["-J", "a:0", "t"], /^Invalid -J 'a:0': port 0 is out of range/);
  usage(["-J", "a:x", "t"], /^Invalid -J 'a:x': 'x' is not a port number$/);
  usage(["-J", "bad host", "t"], /^Invalid -J 'bad host': bad host name 'bad host'$/);
  usage(["-o", "ProxyJump=:22", "t"], /^Invalid -o ProxyJump=':22': missing host in ':22'$/);
});

Deno.test("-o ProxyCommand: kept with its tokens; none disables; -J with it is refused", () => {
  assert.equal(
    run("-o", "ProxyCommand=nc -x p:3128 %h %p", "t").proxyCommand,
    "nc -x p:3128 %h %p",
  );
  assert.equal(
    run("-o", "ProxyCommand=none", "-o", "ProxyCommand=nc %h %p", "t").proxyCommand,
    undefined,
  );
  assert.equal(run("-o", "ProxyCommand=none", "-J", "j", "t").proxyCommand, undefined);
  usage(
    ["-o", "ProxyCommand=nc %h %q", "t"],
    /^Invalid -o ProxyCommand='nc %h %q': unknown token %q/,
  );
  usage(
    ["-o", "ProxyCommand=nc %h %p", "-J", "j", "t"],
    /^ProxyCommand and -J\/ProxyJump cannot be combined/,
  );
});

Deno.test("expandProxyCommand(): %h %p %r %%", () => {
  assert.equal(
    expandProxyCommand("x %h:%p %r %%h 100%%", { host: "db", port: 2222, user: "ann" }),
    "x db:2222 ann %h 100%",
  );
});

Deno.test("--proxy and -o ProxyUrl: http, socks5, socks4a; the password only from a source", () => {
  assert.deepEqual(run("--proxy", "http://10.0.0.1:3128", "t").proxy, {
    scheme: "http",
    host: "10.0.0.1",
    port: 3128,
  });
  const c = run("--proxy", "socks5://al@[::1]", "--proxy-password", "env://PW", "t");
  assert.deepEqual(c.proxy, { scheme: "socks5", host: "::1", port: 1080, user: "al" });
  assert.equal(c.proxyPasswordSource, "env://PW");
  assert.deepEqual(run("-o", "ProxyUrl=socks4a://me@gw:1081", "t").proxy, {
    scheme: "socks4a",
    host: "gw",
    port: 1081,
    user: "me",
  });
  assert.equal(run("--proxy", "none", "-o", "ProxyUrl=http://p:1", "t").proxy, undefined);
  usage(["--proxy", "ftp://p:21", "t"], /^Invalid --proxy 'ftp:\/\/p:21': unknown scheme 'ftp'/);
  usage(["--proxy", "http://p", "t"], /^Invalid --proxy 'http:\/\/p': missing port/);
  usage(["--proxy", "http://a:b@p:1", "t"], /no password in the URL/);
  usage(["--proxy", "p:3128", "t"], /^Invalid --proxy 'p:3128': expected http:\/\//);
  usage(["--proxy", "http://al@p:1", "t"], /needs --proxy-password/);
  usage(
    ["--proxy", "http://al@p:1", "--proxy-password", "hunter2", "t"],
    /^Invalid --proxy-password/,
  );
  usage(["--proxy-password", "env://X", "t"], /needs a proxy with a user/);
  usage(["--proxy", "http://p:1", "-o", "ProxyCommand=nc %h %p", "t"], /cannot be combined/);
});

/** An ssh_config whose lookup returns `lines` ("keyword value") for every host matching `pattern`. */
function sshConfig(blocks: Record<string, string[]>): SshConfig {
  return {
    path: "/home/ann/.ssh/config",
    lookup(host: string) {
      const entries = Object.entries(blocks).flatMap(([pattern, lines]) =>
        hostMatches(pattern.split(" "), host)
          ? lines.map((l, i) => {
            const [keyword, ...rest] = l.split(" ");
            return { keyword, value: rest.join(" "), file: "/home/ann/.ssh/config", line: i + 1 };
          })
          : []
      );
      return { entries, warnings: [] };
    },
  };
}

function runWith(config: SshConfig, ...argv: string[]): ClientConfig {
  const r = parseCommandLine(argv, env, undefined, config);
  assert.notEqual(r.kind, "help");
  return (r as { config: ClientConfig }).config;
}

Deno.test("ssh_config: its values fill what the command line leaves; the first value wins", () => {
  const config = sshConfig({
    "web* !web-old": [
      "hostname %h.example.com",
      "user deploy",
      "port 2222",
      "identityfile ~/.ssh/web",
      "localforward 8080 localhost:80",
      "localforward [127.0.0.1]:8443 [::1]:443",
      "remoteforward 9000 localhost:3000",
      "dynamicforward 1080",
      "stricthostkeychecking accept-new",
      "identitiesonly yes",
      "proxyjump ops@bastion:2200",
      "proxycommand nc %h %p",
    ],
    "bastion": ["hostname 10.0.0.1", "user wrong", "port 22"],
    "*": ["user fallback", "port 22", "serveraliveinterval 5", "hostname ignored"],
  });
  const c = runWith(config, "-p", "22", "-o", "ServerAliveInterval=9", "web1");
  assert.equal(c.host, "web1.example.com");
  assert.equal(c.user, "deploy");
  assert.equal(c.port, 22, "-p wins");
  assert.equal(c.serverAliveInterval, 9, "-o wins");
  assert.deepEqual(c.identityFiles, ["/home/ann/.ssh/web"]);
  assert.equal(c.hostKeyPolicy, "tofu");
  assert.equal(c.identitiesOnly, true);
  assert.deepEqual(
    c.jumps,
    [{ host: "10.0.0.1", port: 2200, user: "ops" }],
    "the hop looked up too",
  );
  assert.equal(c.proxyCommand, undefined, "ProxyJump came first");
  assert.deepEqual(c.localForwards, [
    { protocol: "tcp", listenPort: 8080, dstHost: "localhost", dstPort: 80 },
    { protocol: "tcp", listenAddress: "127.0.0.1", listenPort: 8443, dstHost: "::1", dstPort: 443 },
    { protocol: "socks", listenPort: 1080 },
  ]);
  assert.deepEqual(c.remoteForwards, [
    { protocol: "tcp", listenPort: 9000, dstHost: "localhost", dstPort: 3000 },
  ]);
  const old = runWith(config, "ann@web-old");
  assert.equal(old.host, "ignored");
  assert.equal(old.user, "ann", "user@ on the command line wins");
  assert.equal(old.serverAliveInterval, 5);
  assert.equal(runWith(config, "-o", "ProxyCommand=nc x %p", "web1").jumps, undefined);
});

Deno.test("ssh_config: a bad value is a config error naming the file and line", () => {
  assert.throws(
    () => runWith(sshConfig({ "*": ["port 70000"] }), "h"),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(
        err.message,
        /^\/home\/ann\/\.ssh\/config:1: Port='70000': port 70000 is out of range/,
      );
      return true;
    },
  );
  assert.throws(
    () => runWith(sshConfig({ "*": ["localforward 8080"] }), "h"),
    /config:1: LocalForward='8080': expected \[bind-address:\]port host:hostport/,
  );
  assert.equal(runWith(sshConfig({ "*": ["frobnicate yes"] }), "h").host, "h", "unknown: ignored");
});

Deno.test("-C and -o Compression: yes asks for compression; bad values refused", () => {
  assert.equal(run("-C", "t").compression, true);
  assert.equal(run("-o", "Compression=yes", "t").compression, true);
  assert.equal(run("-o", "Compression=no", "t").compression, undefined);
  assert.equal(run("t").compression, undefined);
  usage(["-o", "Compression=zlib", "t"], /^Invalid -o Compression='zlib': expected yes or no$/);
});
Deno.test("parseCommandLine() takes --ftp-trust-pasv-address with an ftp/ tunnel (off by default)", () => {
  assert.equal(run("-L", "ftp/2121:ftp.example:21", "h").ftpTrustPasvAddress, false);
  assert.equal(
    run("--ftp-trust-pasv-address", "-R", "ftp/2121:localhost:21", "h").ftpTrustPasvAddress,
    true,
  );
});
