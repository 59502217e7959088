/**
 * `warren -L socks/... --proxy-auth=...` run exactly as a user runs it (the
 * CLI with the permission flags of lib/permissions.ts) against OpenSSH sshd
 * on a namespace host, with curl as the client.
 *
 * Needs root, iproute2 and openssh-server; otherwise ignored with one line on
 * stderr saying why.
 */
import assert from "node:assert/strict";
import { LiveCli, runCli } from "./_harness/cli.ts";
import { freePort } from "./_harness/free_port.ts";
import { startOrigin } from "./_harness/origin.ts";
import { curl, warrenArgs } from "./_harness/real_peers.ts";
import { sshdSupport, startSshd } from "./_harness/sshd.ts";
import { skipWhen, unsupportedBy } from "./_harness/skip.ts";

const support = sshdSupport();
const ignore = skipWhen("real-peer proxy CLI tests", unsupportedBy(support));

Deno.test({
  name: "cli: -L socks/ with --proxy-auth serves curl through sshd and exits 0 on SIGTERM",
  ignore,
  async fn() {
    await using sshd = await startSshd();
    await using origin = await startOrigin({ netns: sshd.netns });
    const port = freePort();
    const secret = "cli-s3cret";
    const args = warrenArgs(
      sshd,
      ...["-L", `socks/127.0.0.1:${port}`, "--proxy-auth=bob:env://WARREN_TEST_PROXY_PW"],
    );
    await using cli = new LiveCli(args, { env: { WARREN_TEST_PROXY_PW: secret } });
    await cli.waitFor(new RegExp(`Proxy tunnel -L socks/127\\.0\\.0\\.1:${port} .* for user bob`));

    // "localhost" is resolved by sshd: the namespace's loopback, where the origin is.
    const url = `http://localhost:${origin.httpPort}/hello`;
    const proxy = `127.0.0.1:${port}`;
    for (
      const flags of [["-x", `socks5h://bob:${secret}@${proxy}`], [
        "-p",
        "-x",
        `http://bob:${secret}@${proxy}`,
      ]]
    ) {
      const r = await curl(["--fail", ...flags, url]);
      assert.equal(r.stdout, "hello from origin\n", `${flags.join(" ")}: ${r.stderr}`);
    }
    const refused = await curl(["--fail", "-x", `socks5h://${proxy}`, url]);
    assert.notEqual(refused.code, 0);
    assert.equal(refused.stdout, "");

    assert.equal(await cli.stop("SIGTERM"), 0, cli.stderr);
    assert.match(cli.stderr, /SOCKS5 refused: the client offers no password/);
    assert.ok(!cli.stderr.includes(secret), "the password reached the log");
  },
});

Deno.test({
  name: "cli: --route sends a destination direct, refuses another, and tunnels the rest",
  ignore,
  async fn() {
    await using sshd = await startSshd();
    // One origin behind sshd (its namespace) and one only this machine reaches.
    await using far = await startOrigin({ netns: sshd.netns });
    await using near = await startOrigin();
    const port = freePort();
    const args = warrenArgs(
      sshd,
      "-v",
      ...["-L", `socks/127.0.0.1:${port}`],
      ...["--route", `direct:127.0.0.1:${near.httpPort}`, "--route", `block:*:${far.echoPort}`],
    );
    await using cli = new LiveCli(args);
    await cli.waitFor(new RegExp(`Proxy tunnel -L socks/127\\.0\\.0\\.1:${port}`));
    const proxy = ["-x", `socks5h://127.0.0.1:${port}`];

    // Direct: through SSH 127.0.0.1 would be the namespace's, where nothing listens there.
    const direct = await curl(["--fail", ...proxy, `http://127.0.0.1:${near.httpPort}/hello`]);
    assert.equal(direct.stdout, "hello from origin\n", direct.stderr);
    // No rule: through sshd, which resolves localhost to its own namespace.
    const tunneled = await curl(["--fail", ...proxy, `http://localhost:${far.httpPort}/hello`]);
    assert.equal(tunneled.stdout, "hello from origin\n", tunneled.stderr);
    // Blocked: curl hears SOCKS5's "not allowed by ruleset".
    const blocked = await curl([...proxy, `http://localhost:${far.echoPort}/`]);
    assert.notEqual(blocked.code, 0);
    assert.match(blocked.stderr, /not allowed|\(2\)/i);
    const http = await curl([
      "-p",
      "-x",
      `http://127.0.0.1:${port}`,
      `http://localhost:${far.echoPort}/`,
    ]);
    assert.match(http.stderr, /403/);

    assert.equal(await cli.stop("SIGTERM"), 0, cli.stderr);
    assert.match(
      cli.stderr,
      new RegExp(
        `localhost:${far.echoPort} \\(SOCKS5, --route block:\\*:${far.echoPort}\\): refused`,
      ),
    );
    // sshd opened a channel for the tunneled request only.
    const log = await sshd.log();
    const target = (p: number) =>
      new RegExp(`server_request_direct_tcpip: .*target \\S+ port ${p}\\b`);
    assert.match(log, target(far.httpPort));
    assert.doesNotMatch(log, target(near.httpPort));
    assert.doesNotMatch(log, target(far.echoPort));
  },
});

Deno.test("cli: --proxy-auth and --route mistakes are usage errors (exit 2, one line)", async () => {
  const cases: [string[], RegExp][] = [
    [["-L", "socks/1080", "--route", "relay:*", "h"], /^warren: Invalid --route 'relay:\*': /],
    [["--route", "direct:*", "h"], /^warren: --route needs a proxy tunnel/],
    [["-L", "socks/1080", "--proxy-auth=bob:hunter2", "h"], /^warren: Invalid --proxy-auth: /],
    [["-L", "socks/1080", "--proxy-auth=env://PW", "h"], /^warren: Invalid --proxy-auth: /],
    [["--proxy-auth=bob:env://PW", "h"], /^warren: --proxy-auth needs a proxy tunnel/],
  ];
  for (const [args, pattern] of cases) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
    assert.ok(!r.stderr.includes("hunter2"), "the password was echoed");
  }
});
