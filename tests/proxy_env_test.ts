/**
 * Proxy settings handed to programs, against OpenSSH sshd in a namespace
 * whose /etc/hosts alone knows ORIGIN_NAME:
 *
 * - `warren -L socks/0 ... -- curl http://ORIGIN_NAME/...` works with no
 *   proxy flag given to curl (the command gets http_proxy and friends);
 *   `--no-proxy-env` turns that off; `direct` routes become NO_PROXY.
 * - Headless Chromium with `--proxy-pac-url` at warren's /proxy.pac loads a
 *   page through the tunnel, while a `direct` route goes direct.
 *
 * Needs root, iproute2, openssh-server and curl (Chromium for the browser
 * test); otherwise ignored with one line on stderr saying why.
 */
import assert from "node:assert/strict";
import { LiveCli, runCli } from "./_harness/cli.ts";
import { freePort } from "./_harness/free_port.ts";
import { type Origin, startOrigin } from "./_harness/origin.ts";
import {
  chromiumDom,
  realPeersUnsupported,
  startRealPeers,
  warrenArgs,
} from "./_harness/real_peers.ts";
import { skipWhen } from "./_harness/skip.ts";

const ignore = skipWhen("proxy hand-off tests", realPeersUnsupported("curl"));
const ignoreBrowser = skipWhen("PAC browser test", realPeersUnsupported("curl", "chromium"));
const ORIGIN_NAME = "far-only.warren.test";
const HOSTS = `127.0.0.1 localhost ${ORIGIN_NAME}\n::1 localhost ip6-localhost\n`;

async function peers() {
  return await startRealPeers<{ origin: Origin }>({ hosts: HOSTS }, async (p) => {
    const origin = await startOrigin({ netns: p.netns });
    p.defer(() => origin.close());
    return { origin };
  });
}

Deno.test({
  name: "cli: -- curl reaches a name only the far side knows, with no proxy flag",
  ignore,
  async fn() {
    await using rig = await peers();
    await using here = await startOrigin();
    const url = `http://${ORIGIN_NAME}:${rig.origin.httpPort}/hello`;
    // The PROXY variables of this process must not leak in: start from none.
    const clean = Object.fromEntries(
      ["ALL_PROXY", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"].flatMap((v) => [
        [v, ""],
        [v.toLowerCase(), ""],
      ]),
    );
    const curl = ["curl", "-sS", "--fail", "--max-time", "30"];
    const r = await runCli(
      [...warrenArgs(rig.sshd, "-L", "socks/0"), "--", ...curl, url],
      { env: clean },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "hello from origin\n");

    const off = await runCli(
      [...warrenArgs(rig.sshd, "-L", "socks/0", "--no-proxy-env"), "--", ...curl, url],
      { env: clean },
    );
    assert.notEqual(off.code, 0, "the name resolved without the tunnel");
    assert.match(off.stderr, /Could not resolve host/);

    // A direct route becomes NO_PROXY: curl goes straight to the origin here, and
    // warren sees no proxy request for it; the rest still goes through the tunnel.
    const near = `http://127.0.0.1:${here.httpPort}/hello`;
    const both = await runCli([
      ...warrenArgs(rig.sshd, "-v", "-L", "socks/0", "--route", "direct:127.0.0.0/8"),
      "--",
      "sh",
      "-c",
      `echo "$NO_PROXY|$no_proxy|$ALL_PROXY" && ${curl.join(" ")} ${near} && ${
        curl.join(" ")
      } ${url}`,
    ], { env: clean });
    assert.equal(both.code, 0, both.stderr);
    const [vars, ...bodies] = both.stdout.split("\n");
    assert.match(vars, /^127\.0\.0\.0\/8\|127\.0\.0\.0\/8\|socks5h:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(bodies, ["hello from origin", "hello from origin", ""]);
    assert.doesNotMatch(both.stderr, new RegExp(`127\\.0\\.0\\.1:${here.httpPort} \\(HTTP`));
    assert.match(both.stderr, new RegExp(`${ORIGIN_NAME.replaceAll(".", "\\.")}:\\d+ \\(HTTP\\)`));
  },
});

Deno.test({
  name:
    "browser: Chromium with --proxy-pac-url loads through the tunnel; a direct route goes direct",
  ignore: ignoreBrowser,
  async fn() {
    await using rig = await peers();
    // A page on this machine's side of the namespace link (not loopback, which
    // Chromium never proxies anyway): reachable directly, and from sshd's side too.
    const ac = new AbortController();
    const seen: string[] = [];
    const near = Deno.serve({
      hostname: rig.netns.hostAddr,
      port: 0,
      signal: ac.signal,
      onListen: () => {},
    }, (_req, info) => {
      seen.push((info.remoteAddr as Deno.NetAddr).hostname);
      return new Response("<html><body><p id='near'>near page</p></body></html>", {
        headers: { "content-type": "text/html" },
      });
    });
    try {
      const port = freePort();
      await using cli = new LiveCli(warrenArgs(
        rig.sshd,
        "-v",
        ...["-L", `socks/127.0.0.1:${port}`],
        ...["--route", "direct:169.254.0.0/16", "--route", "block:*.example"],
      ));
      await cli.waitFor(new RegExp(`Proxy tunnel -L socks/127\\.0\\.0\\.1:${port}`));
      const pac = `http://127.0.0.1:${port}/proxy.pac`;
      const far = await chromium(
        pac,
        `http://${ORIGIN_NAME}:${rig.origin.httpPort}/page?parts=3`,
      );
      assert.ok(far.includes('<p id="parts">parts 0,1,2</p>'), far + cli.stderr);
      const direct = await chromium(pac, `http://${rig.netns.hostAddr}:${near.addr.port}/`);
      assert.ok(direct.includes("near page"), direct);
      // Fetched from here (this side's address), not by sshd through the tunnel.
      assert.deepEqual([...new Set(seen)], [rig.netns.hostAddr]);
      assert.equal(await cli.stop("SIGTERM"), 0, cli.stderr);
      assert.match(cli.stderr, /sent \/proxy\.pac/);
      assert.match(cli.stderr, new RegExp(`${ORIGIN_NAME.replaceAll(".", "\\.")}:\\d+ \\(HTTP`));
      assert.doesNotMatch(cli.stderr, new RegExp(`${rig.netns.hostAddr.replaceAll(".", "\\.")}:`));
    } finally {
      ac.abort();
      await near.finished;
    }
  },
});

/** Chromium with warren's PAC URL. */
function chromium(pac: string, url: string): Promise<string> {
  return chromiumDom(url, [`--proxy-pac-url=${pac}`]);
}
