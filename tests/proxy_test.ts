/**
 * -L socks/ against a real OpenSSH sshd on a namespace host, driven by real
 * clients: curl (--socks4, --socks4a, --socks5, --socks5-hostname, -x http://
 * plain and CONNECT) and the npm `socks` client. The origins listen on the
 * namespace's loopback only, and origin.warren.test resolves only inside the
 * namespace (tests/_harness/proxy_rig.ts), so a request by that name works
 * only if the name reaches sshd unresolved.
 *
 * Needs root, iproute2 and openssh-server; otherwise ignored with one line on
 * stderr saying why.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { setLogWriter, setupLogging } from "../lib/log.ts";
import { ProxyCredentials } from "../lib/tunnel/proxy/auth.ts";
import { patternBytes } from "./_harness/pattern.ts";
import {
  curl,
  exchange,
  ORIGIN_NAME as NAME,
  socks,
  startRig,
  until,
} from "./_harness/proxy_rig.ts";
import { sshdSupport } from "./_harness/sshd.ts";
import { skipWhen, unsupportedBy } from "./_harness/skip.ts";

const support = sshdSupport();
const ignore = skipWhen("real-peer proxy tests", unsupportedBy(support));
const logLines: string[] = [];
setLogWriter((line) => logLines.push(line));
setupLogging("info");

const hello = (host: string) => `GET /hello HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;

Deno.test({
  name: "curl reaches the origin through SOCKS4, SOCKS4a, SOCKS5, SOCKS5h and HTTP proxy",
  ignore,
  async fn(t) {
    await using rig = await startRig();
    const proxy = `127.0.0.1:${rig.port}`;
    const http = rig.origin.httpPort;
    const cases: [string, string[], string][] = [
      ["--socks4", ["--socks4", proxy], `http://127.0.0.1:${http}/hello`],
      ["--socks4a", ["--socks4a", proxy], `http://${NAME}:${http}/hello`],
      ["--socks5 (IPv4)", ["--socks5", proxy], `http://127.0.0.1:${http}/hello`],
      ["--socks5-hostname", ["--socks5-hostname", proxy], `http://${NAME}:${http}/hello`],
      ["-x http:// (absolute URI)", ["-x", `http://${proxy}`], `http://${NAME}:${http}/hello`],
      ["-p -x http:// (CONNECT)", ["-p", "-x", `http://${proxy}`], `http://${NAME}:${http}/hello`],
    ];
    if (rig.origin.ipv6) {
      cases.push(["--socks5 (IPv6)", ["--socks5", proxy], `http://[::1]:${http}/hello`]);
    }
    for (const [name, flags, url] of cases) {
      await t.step(name, async () => {
        const r = await curl(["--fail", ...flags, url]);
        assert.equal(r.stdout, "hello from origin\n", `${r.code}: ${r.stderr}`);
      });
    }

    await t.step("-x http:// forwards a clean request head and a 1 MiB body", async () => {
      const r = await curl([
        "--fail",
        "-x",
        `http://${proxy}`,
        "-H",
        "Proxy-Connection: keep-alive",
        `http://${NAME}:${http}/headers?x=1`,
      ]);
      const seen = JSON.parse(r.stdout);
      assert.equal(seen.url, `http://${NAME}:${http}/headers?x=1`);
      assert.equal(seen.headers.host, `${NAME}:${http}`);
      assert.equal(seen.headers.connection, "close");
      assert.equal(seen.headers["proxy-connection"], undefined);
      const body = `${rig.sshd.dir}/body.bin`;
      const sent = patternBytes(1024 * 1024, 9);
      await Deno.writeFile(body, sent);
      const out = `${rig.sshd.dir}/echoed.bin`;
      const post = await curl([
        "--fail",
        "-x",
        `http://${proxy}`,
        "--data-binary",
        `@${body}`,
        "-o",
        out,
        `http://${NAME}:${http}/echo`,
      ]);
      assert.equal(post.code, 0, post.stderr);
      assert.equal(Buffer.compare(await Deno.readFile(out), sent), 0);
    });

    await t.step("--socks5-hostname downloads 16 MiB byte for byte", async () => {
      const out = `${rig.sshd.dir}/download.bin`;
      const size = 16 * 1024 * 1024;
      const r = await curl([
        "--fail",
        "--socks5-hostname",
        proxy,
        "-o",
        out,
        `http://${NAME}:${http}/bytes/${size}?seed=4`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(Buffer.compare(await Deno.readFile(out), patternBytes(size, 4)), 0);
    });

    await t.step("an HTTP request to a closed port gets 502", async () => {
      const r = await curl([
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-x",
        `http://${proxy}`,
        `http://${NAME}:1/`,
      ]);
      assert.equal(r.stdout, "502", r.stderr);
    });

    // Names went to sshd as text: it resolved them (DEBUG1 logs each request).
    assert.match(await rig.sshd.log(), new RegExp(`target ${NAME} port ${http}`));
  },
});

Deno.test({
  name: "the npm socks client gets IPv6 through and protocol-correct error replies",
  ignore,
  async fn(t) {
    await using rig = await startRig();
    await t.step("IPv6 destination [::1] at the server end", async () => {
      if (!rig.origin.ipv6) return;
      const reply = await exchange(await socks(rig, "::1", rig.origin.httpPort), hello("x"));
      assert.match(reply.toString(), /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nhello from origin\n$/);
      const echoed = await exchange(await socks(rig, "::1", rig.origin.echoPort), "echo six");
      assert.equal(echoed.toString(), "echo six");
    });
    const rejects = (p: Promise<unknown>, pattern: RegExp) => assert.rejects(p, pattern);
    await t.step("a closed port is SOCKS5 0x05 connection refused", async () => {
      await rejects(socks(rig, "127.0.0.1", 1), /rejected connection - ConnectionRefused/);
    });
    await t.step("an unknown name is SOCKS5 0x04 host unreachable", async () => {
      await rejects(socks(rig, "nowhere.warren.test", 80), /- HostUnreachable/);
    });
    await t.step("BIND is SOCKS5 0x07 command not supported", async () => {
      await rejects(socks(rig, "0.0.0.0", 0, {}, "bind"), /- CommandNotSupported/);
    });
    await t.step("SOCKS4 to a closed port is 0x5B rejected", async () => {
      await rejects(
        socks(rig, "127.0.0.1", 1, { type: 4 }),
        /Socks4 proxy rejected connection - \(Failed\)/i,
      );
    });
    await until(() => rig.activity.live === 0, "every refused client to be closed");
  },
});

Deno.test({
  name: "50 concurrent proxied connections each carry their own bytes",
  ignore,
  async fn() {
    await using rig = await startRig();
    const sockets = await Promise.all(
      Array.from(
        { length: 50 },
        (_, i) =>
          socks(rig, i % 2 ? NAME : "127.0.0.1", rig.origin.echoPort, i % 3 ? {} : { type: 4 }),
      ),
    );
    // All 50 handshakes are done and every channel is open at once.
    assert.equal(rig.activity.live, 50);
    const results = await Promise.all(
      sockets.map((s, i) => exchange(s, patternBytes(64 * 1024 + i, i + 1))),
    );
    for (const [i, got] of results.entries()) {
      assert.equal(Buffer.compare(got, patternBytes(64 * 1024 + i, i + 1)), 0, `connection ${i}`);
    }
  },
});

Deno.test({
  name: "sshd's PermitOpen refusal is SOCKS5 0x02 not allowed and HTTP 403",
  ignore,
  async fn() {
    await using rig = await startRig({ sshdConfig: ["PermitOpen 127.0.0.1:1"] });
    const http = rig.origin.httpPort;
    await assert.rejects(socks(rig, "127.0.0.1", http), /- NotAllowed/);
    const plain = await curl([
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "-x",
      `http://127.0.0.1:${rig.port}`,
      `http://127.0.0.1:${http}/hello`,
    ]);
    assert.equal(plain.stdout, "403", plain.stderr);
    const tunnel = await curl([
      "-p",
      "-x",
      `http://127.0.0.1:${rig.port}`,
      `http://127.0.0.1:${http}/hello`,
    ]);
    assert.notEqual(tunnel.code, 0);
    assert.match(tunnel.stderr, /CONNECT tunnel failed, response 403/);
    await until(() => rig.activity.live === 0, "every refused client to be closed");
  },
});

Deno.test({
  name: "--proxy-auth lets SOCKS5 and HTTP clients in with the password only",
  ignore,
  async fn(t) {
    const secret = "c0rrect-h0rse";
    const file = await Deno.makeTempFile();
    await Deno.writeTextFile(file, `${secret}\n`);
    logLines.length = 0;
    try {
      const credentials = await ProxyCredentials.load({ user: "bob", source: `file://${file}` });
      await using rig = await startRig({ credentials });
      const url = `http://${NAME}:${rig.origin.httpPort}/hello`;
      const at = (userinfo: string) => `${userinfo}127.0.0.1:${rig.port}`;
      await t.step("SOCKS5 with the password works, without or wrong fails", async () => {
        const ok = await curl(["--fail", "-x", `socks5h://${at(`bob:${secret}@`)}`, url]);
        assert.equal(ok.stdout, "hello from origin\n", ok.stderr);
        for (const proxy of [`socks5h://${at("bob:wrong@")}`, `socks5h://${at("")}`]) {
          const r = await curl(["--fail", "-x", proxy, url]);
          assert.notEqual(r.code, 0, proxy);
          assert.equal(r.stdout, "");
        }
        const four = await curl(["--fail", "--socks4a", at(""), url]);
        assert.notEqual(four.code, 0);
        const sock = await socks(rig, NAME, rig.origin.echoPort, {
          userId: "bob",
          password: secret,
        });
        assert.equal((await exchange(sock, "authenticated")).toString(), "authenticated");
        await assert.rejects(
          socks(rig, NAME, rig.origin.echoPort, { userId: "bob", password: "nope" }),
          /Authentication failed/i,
        );
      });
      await t.step("HTTP with Proxy-Authorization works, without gets 407", async () => {
        for (const flags of [[], ["-p"]]) {
          const ok = await curl(["--fail", ...flags, "-x", `http://${at(`bob:${secret}@`)}`, url]);
          assert.equal(ok.stdout, "hello from origin\n", ok.stderr);
        }
        const none = await curl([
          "-o",
          "/dev/null",
          "-w",
          "%{http_code}",
          "-x",
          `http://${at("")}`,
          url,
        ]);
        assert.equal(none.stdout, "407", none.stderr);
        const wrong = await curl(["-p", "-x", `http://${at("bob:wrong@")}`, url]);
        assert.match(wrong.stderr, /CONNECT tunnel failed, response 407/);
      });
      await until(() => rig.activity.live === 0, "every refused client to be closed");
    } finally {
      await Deno.remove(file);
    }
    const log = logLines.join("");
    assert.match(log, /authentication failed/);
    assert.ok(!log.includes(secret), "the password reached a log line");
  },
});
