/**
 * --proxy URL: warren's built-in HTTP CONNECT, SOCKS5 and SOCKS4a clients
 * against real proxies. tinyproxy (HTTP, Basic authentication) and
 * microsocks (SOCKS5, user/password) run in the sshd's namespace, and the
 * sshd listens on that namespace's loopback, so only the proxy reaches it.
 * SOCKS4a (and SOCKS5 without authentication) go through warren's own
 * `-L socks/` listener. A proxy's refusal is one line with its answer.
 */
import assert from "node:assert/strict";
import { LiveCli, runCli } from "./_harness/cli.ts";
import { isolatedEnv } from "./_harness/broker_rig.ts";
import { freePort, randomPort } from "./_harness/free_port.ts";
import { loginsFrom } from "./_harness/jump_chain.ts";
import { startOrigin } from "./_harness/origin.ts";
import {
  MICROSOCKS,
  missingTool,
  startMicrosocks,
  startTinyproxy,
  TINYPROXY,
} from "./_harness/proxies.ts";
import { realPeersUnsupported } from "./_harness/real_peers.ts";
import { skipWhen } from "./_harness/skip.ts";
import { startSshd } from "./_harness/sshd.ts";

const ignore = skipWhen(
  "built-in proxy tests",
  realPeersUnsupported("curl") ?? missingTool(TINYPROXY, "tinyproxy") ??
    missingTool(MICROSOCKS, "microsocks"),
);

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

Deno.test({
  name: "--proxy: HTTP CONNECT, SOCKS5, SOCKS4a and SOCKS4 to an sshd only a proxy reaches",
  ignore,
}, async (t) => {
  const innerPort = randomPort();
  await using sshd = await startSshd({ extraConfig: [`ListenAddress 127.0.0.1:${innerPort}`] });
  await using origin = await startOrigin({ netns: sshd.netns });
  const alice = { user: "alice", password: "s3cret pass" };
  await using http = await startTinyproxy(sshd.netns, sshd.dir, {
    connectPorts: [innerPort],
    basicAuth: { user: "alice", password: "s3cret" },
  });
  await using socks = await startMicrosocks(sshd.netns, { auth: alice });
  const knownHosts = `${sshd.dir}/known_hosts_inner`;
  const hostKey = sshd.hostKeyLine.split(" ").slice(1).join(" ");
  await Deno.writeTextFile(knownHosts, `[127.0.0.1]:${innerPort} ${hostKey}\n`);
  const env = {
    ...isolatedEnv(sshd.dir),
    HTTP_PW: "s3cret",
    SOCKS_PW: alice.password,
    BAD_PW: "nope",
  };
  const warren = (target: string, ...args: string[]) => {
    const port = freePort();
    return runCli([
      ...["-i", sshd.clientKey, "-o", `UserKnownHostsFile=${knownHosts}`],
      ...["-o", "StrictHostKeyChecking=yes", "-B"],
      ...args,
      ...["-L", `${port}:127.0.0.1:${origin.httpPort}`],
      target,
      ...["--", "curl", "-sS", "--max-time", "20", `http://127.0.0.1:${port}/hello`],
    ], { env, timeoutMs: 60_000 });
  };
  const inner = `${sshd.user}@127.0.0.1#${innerPort}`;
  const httpUrl = `http://alice@${http.host}:${http.port}`;
  const socksUrl = `socks5://alice@${socks.host}:${socks.port}`;
  let logins = 0;

  await t.step("HTTP CONNECT with Basic authentication", async () => {
    const r = await warren(inner, "--proxy", httpUrl, "--proxy-password", "env://HTTP_PW");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "hello from origin\n");
    assert.equal(await loginsFrom(sshd, "127.0.0.1"), ++logins, "the login came through the proxy");
  });

  await t.step("HTTP: no credentials is refused with the proxy's 407, in one line", async () => {
    const r = await warren(inner, "-o", `ProxyUrl=http://${http.host}:${http.port}`);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(
      r.stderr,
      `warren: Proxy ${http.host}:${http.port} refused CONNECT 127.0.0.1:${innerPort}: ` +
        "407 Proxy Authentication Required\n",
    );
  });

  await t.step("HTTP: a port the proxy does not allow is refused with its 403", async () => {
    const r = await warren(
      `${sshd.user}@127.0.0.1#${sshd.port}`,
      ...["--proxy", httpUrl, "--proxy-password", "env://HTTP_PW"],
    );
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `^warren: Proxy ${
          escape(http.host)
        }:${http.port} refused CONNECT 127\\.0\\.0\\.1:${sshd.port}: 403 \\S.*\\n$`,
      ),
    );
  });

  await t.step("SOCKS5 with a user and password", async () => {
    const r = await warren(inner, "--proxy", socksUrl, "--proxy-password", "env://SOCKS_PW");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "hello from origin\n");
    assert.equal(await loginsFrom(sshd, "127.0.0.1"), ++logins);
  });

  await t.step("SOCKS5: a wrong password, and no user, are refused in one line", async () => {
    const wrong = await warren(inner, "--proxy", socksUrl, "--proxy-password", "env://BAD_PW");
    assert.equal(wrong.code, 1, wrong.stderr);
    assert.equal(
      wrong.stderr,
      `warren: Proxy ${socks.host}:${socks.port} refused CONNECT 127.0.0.1:${innerPort}: ` +
        "authentication as alice failed\n",
    );
    const none = await warren(inner, "--proxy", `socks5://${socks.host}:${socks.port}`);
    assert.equal(none.code, 1, none.stderr);
    assert.match(
      none.stderr,
      /^warren: Proxy .* refused CONNECT .*: it wants authentication .*\n$/,
    );
  });

  await t.step(
    "SOCKS4a, SOCKS4 and SOCKS5 without authentication, through warren's -L socks/",
    async () => {
      const socksPort = freePort();
      await using front = new LiveCli([
        ...["-i", sshd.clientKey, "-o", `UserKnownHostsFile=${sshd.knownHosts}`],
        ...["-o", "StrictHostKeyChecking=yes", "-B", "-L", `socks/${socksPort}`],
        `${sshd.user}@${sshd.host}#${sshd.port}`,
      ], { env });
      await front.waitFor(/Proxy tunnel -L socks/);
      for (const scheme of ["socks4a", "socks4", "socks5"]) {
        const r = await warren(inner, "--proxy", `${scheme}://127.0.0.1:${socksPort}`);
        assert.equal(r.code, 0, `${scheme}: ${r.stderr}`);
        assert.equal(r.stdout, "hello from origin\n");
      }
      assert.equal(await loginsFrom(sshd, "127.0.0.1"), logins + 3);
      assert.equal(await front.stop(), 0, front.stderr);
    },
  );
});

Deno.test("--proxy: a proxy that is not listening is named", async () => {
  const port = freePort();
  const r = await runCli(["-B", "--proxy", `socks5://127.0.0.1:${port}`, "nowhere.invalid"], {
    timeoutMs: 30_000,
  });
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr, `warren: Cannot connect to proxy 127.0.0.1:${port}: connection refused\n`);
});

Deno.test(
  { name: "<proxy ruleset> in a profile: the first matching rule picks the proxy", ignore },
  async (t) => {
    const innerPort = randomPort();
    await using sshd = await startSshd({ extraConfig: [`ListenAddress 127.0.0.1:${innerPort}`] });
    await using http = await startTinyproxy(sshd.netns, sshd.dir, { connectPorts: [innerPort] });
    await using socks = await startMicrosocks(sshd.netns);
    const knownHosts = `${sshd.dir}/known_hosts_inner`;
    const hostKey = sshd.hostKeyLine.split(" ").slice(1).join(" ");
    await Deno.writeTextFile(knownHosts, `[127.0.0.1]:${innerPort} ${hostKey}\n`);
    const profile = (id: string, ruleset?: string) =>
      `<profile id="${id}" host="127.0.0.1" port="${innerPort}" user="${sshd.user}">
      ${ruleset === undefined ? "" : `<proxy ruleset="${ruleset}" />`}
      <user-identities><identity file="${sshd.clientKey}" /></user-identities>
    </profile>`;
    const config = `${sshd.dir}/broker.xml`;
    await Deno.writeTextFile(
      config,
      `<?xml version="1.0" encoding="UTF-8"?>
<secsh-broker version="1.0">
  <general><known-hosts file="${knownHosts}" /></general>
  <default-settings><proxy ruleset="socks5://${socks.host}:${socks.port}" /></default-settings>
  <profiles>
    ${profile("inherited")}
    ${
        profile(
          "http",
          `direct://10.0.0.0/8;http-connect://${http.host}:${http.port}/127.0.0.0/8:${innerPort}`,
        )
      }
    ${profile("direct", `direct://127.0.0.1;http-connect://${http.host}:${http.port}`)}
  </profiles>
</secsh-broker>
`,
    );
    const env = isolatedEnv(sshd.dir);
    const warren = (...args: string[]) =>
      runCli(["--config", config, "-B", "-v", ...args, "--", "true"], { env, timeoutMs: 30_000 });
    let logins = 0;

    await t.step("the default settings' SOCKS5 rule, inherited", async () => {
      const r = await warren("inherited");
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`through proxy ${escape(socks.host)}:${socks.port}`));
      assert.equal(await loginsFrom(sshd, "127.0.0.1"), ++logins);
    });

    await t.step("an http-connect rule matched by address block and port", async () => {
      const r = await warren("http");
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`through proxy ${escape(http.host)}:${http.port}`));
      assert.match(http.output(), new RegExp(`CONNECT.*127\\.0\\.0\\.1:${innerPort}`));
      assert.equal(await loginsFrom(sshd, "127.0.0.1"), ++logins);
    });

    await t.step("a direct rule first: connects directly (where nothing listens)", async () => {
      const r = await warren("direct");
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`Cannot connect to 127\\.0\\.0\\.1:${innerPort}: connection refused\\n$`),
      );
    });

    await t.step("--proxy none on the command line wins over the profile's rules", async () => {
      const r = await warren("--proxy", "none", "inherited");
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /connection refused\n$/);
    });
  },
);
