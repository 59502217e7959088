/**
 * `warren -R socks/...` (reverse dynamic forwarding) as a user runs it,
 * against OpenSSH sshd in a network namespace: sshd listens on the
 * namespace's loopback, curl inside the namespace uses that port as a SOCKS5
 * or HTTP proxy, and warren connects each request from this machine, where
 * the origin is (nothing listens on the origin's port inside the namespace).
 *
 * Needs root, iproute2, openssh-server and curl; otherwise ignored with one
 * line on stderr saying why.
 */
import assert from "node:assert/strict";
import { LiveCli } from "./_harness/cli.ts";
import { startOrigin } from "./_harness/origin.ts";
import { curl, realPeersUnsupported, warrenArgs } from "./_harness/real_peers.ts";
import { startSshd } from "./_harness/sshd.ts";
import { skipWhen } from "./_harness/skip.ts";
import { tempDir } from "./_harness/temp_dir.ts";

const ignore = skipWhen("reverse proxy tunnel tests", realPeersUnsupported("curl"));

Deno.test({
  name: "cli: -R socks/0 serves curl in the server's namespace from warren's side; routes apply",
  ignore,
  async fn() {
    await using sshd = await startSshd();
    // Only this machine reaches it: the namespace's 127.0.0.1 has nothing on these ports.
    await using here = await startOrigin();
    const args = warrenArgs(
      sshd,
      "-v",
      ...["-R", "socks/0", "--route", `block:*:${here.echoPort}`],
    );
    await using cli = new LiveCli(args);
    const m = await cli.waitFor(/Remote proxy tunnel -R socks\/.*the server assigned port (\d+)/);
    const proxy = `127.0.0.1:${m[1]}`;
    const url = `http://localhost:${here.httpPort}/hello`;
    const inside = (flags: string[]) => curl(["--fail", ...flags], sshd.netns);

    // Nothing answers there inside the namespace without the proxy.
    const alone = await inside([url]);
    assert.notEqual(alone.code, 0, "the origin is reachable from the namespace by itself");

    for (
      const flags of [
        ["-x", `socks5h://${proxy}`],
        ["--socks4a", proxy],
        ["-x", `http://${proxy}`], // absolute URI
        ["-p", "-x", `http://${proxy}`], // CONNECT
      ]
    ) {
      const r = await inside([...flags, url]);
      assert.equal(r.stdout, "hello from origin\n", `${flags.join(" ")}: ${r.stderr}`);
    }
    // 3 MiB up and back down, byte for byte, through SOCKS5 and CONNECT.
    await using work = await tempDir("warren-rsocks-");
    const body = crypto.getRandomValues(new Uint8Array(64 * 1024));
    const sent = new Uint8Array(3 * 1024 * 1024).map((_, i) => body[i % body.length] ^ (i >> 16));
    await Deno.writeFile(`${work.path}/in`, sent);
    for (const flags of [["-x", `socks5h://${proxy}`], ["-p", "-x", `http://${proxy}`]]) {
      await Deno.remove(`${work.path}/out`).catch(() => {});
      const r = await inside([
        ...flags,
        ...["--data-binary", `@${work.path}/in`, "-o", `${work.path}/out`],
        `http://127.0.0.1:${here.httpPort}/echo`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const got = await Deno.readFile(`${work.path}/out`);
      assert.equal(got.length, sent.length, flags.join(" "));
      assert.ok(got.every((b, i) => b === sent[i]), `${flags.join(" ")}: bytes differ`);
    }

    // Blocked by the route: SOCKS5's "not allowed by ruleset", HTTP's 403.
    const blocked = await curl(
      ["-x", `socks5h://${proxy}`, `http://localhost:${here.echoPort}/`],
      sshd.netns,
    );
    assert.notEqual(blocked.code, 0);
    assert.match(blocked.stderr, /not allowed|\(2\)/i);
    const forbidden = await curl(
      ["-p", "-x", `http://${proxy}`, `http://localhost:${here.echoPort}/`],
      sshd.netns,
    );
    assert.match(forbidden.stderr, /403/);
    // A destination nothing listens on: SOCKS5's "connection refused".
    const refused = await curl(["-x", `socks5h://${proxy}`, "http://127.0.0.1:1/"], sshd.netns);
    assert.notEqual(refused.code, 0);

    assert.equal(await cli.stop("SIGTERM"), 0, cli.stderr);
    assert.match(cli.stderr, new RegExp(`localhost:${here.echoPort} \\(SOCKS5, --route block`));
    assert.match(cli.stderr, /127\.0\.0\.1:1 \(SOCKS5\): .*refused/i);
    // sshd granted the listener and opened no direct-tcpip channel: warren connected.
    const log = await sshd.log();
    assert.match(log, /server_input_global_request: rtype tcpip-forward/);
    assert.doesNotMatch(log, /server_request_direct_tcpip/);
  },
});

Deno.test({
  name: "cli: -R socks/ with --proxy-auth refuses clients without the password",
  ignore,
  async fn() {
    await using sshd = await startSshd();
    await using here = await startOrigin();
    const secret = "rev-s3cret";
    const args = warrenArgs(
      sshd,
      ...["-R", "socks/localhost:0", "--proxy-auth=bob:env://WARREN_TEST_PROXY_PW"],
    );
    await using cli = new LiveCli(args, { env: { WARREN_TEST_PROXY_PW: secret } });
    const m = await cli.waitFor(/the server assigned port (\d+)/);
    const proxy = `127.0.0.1:${m[1]}`;
    const url = `http://127.0.0.1:${here.httpPort}/hello`;
    for (
      const flags of [["-x", `socks5h://bob:${secret}@${proxy}`], [
        "-p",
        "-x",
        `http://bob:${secret}@${proxy}`,
      ]]
    ) {
      const r = await curl(["--fail", ...flags, url], sshd.netns);
      assert.equal(r.stdout, "hello from origin\n", `${flags.join(" ")}: ${r.stderr}`);
    }
    for (const flags of [["-x", `socks5h://${proxy}`], ["-x", `socks5h://bob:wrong@${proxy}`]]) {
      const r = await curl(["--fail", ...flags, url], sshd.netns);
      assert.notEqual(r.code, 0, flags.join(" "));
      assert.equal(r.stdout, "");
    }
    const http = await curl(["--fail", "-p", "-x", `http://${proxy}`, url], sshd.netns);
    assert.match(http.stderr, /407/);
    assert.equal(await cli.stop("SIGTERM"), 0, cli.stderr);
    assert.match(cli.stderr, /SOCKS5 authentication failed/);
    assert.ok(!cli.stderr.includes(secret), "the password reached the log");
  },
});
