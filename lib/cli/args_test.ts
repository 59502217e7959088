import assert from "node:assert/strict";
import { parseCommandLine } from "./args.ts";
import { parseTarget } from "./target.ts";
import { UsageError } from "../errors.ts";
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
  assert.equal(run("-D", "5", "h").verbosity, 2);
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
    [["-R", "socks/1080", "h"], /socks\/ tunnels are local only/],
    [["-o", "Compression=yes", "h"], /Unknown -o option 'Compression'/],
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
