/**
 * A browser behind `warren -L socks/`: headless Chromium loads a page from an
 * origin that only sshd's namespace reaches: through SOCKS5 (names resolved by
 * sshd), through the HTTP proxy on the same port (absolute URIs), and over
 * HTTPS through that proxy (CONNECT, TLS end to end with the origin). The
 * page pulls a dozen scripts, which Chromium fetches over several parallel
 * connections; the page itself reports which ran, in order.
 *
 * Chromium's own background requests are kept off the tunnel twice: by its
 * flags, and by warren's routes, which tunnel the origin and block the rest.
 *
 * Needs root, iproute2, openssh-server, openssl and Debian's chromium;
 * otherwise ignored with one line on stderr saying why.
 */
import assert from "node:assert/strict";
import { LiveCli } from "./_harness/cli.ts";
import { freePort } from "./_harness/free_port.ts";
import { startOrigin } from "./_harness/origin.ts";
import { realPeersUnsupported, run, warrenArgs } from "./_harness/real_peers.ts";
import { skipWhen } from "./_harness/skip.ts";
import { startSshd } from "./_harness/sshd.ts";

const ignore = skipWhen("browser tests", realPeersUnsupported("chromium", "openssl"));
const PARTS = 12;

/** A self-signed certificate for "localhost", and its key, as PEM files in `dir`. */
async function certificate(dir: string): Promise<{ cert: string; key: string }> {
  const files = { cert: `${dir}/origin.crt`, key: `${dir}/origin.key` };
  const r = await run("openssl", [
    ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
    ...["-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
    ...["-keyout", files.key, "-out", files.cert],
  ]);
  assert.equal(r.code, 0, r.stderr);
  return files;
}

/** Chromium, headless, printing the page's DOM once loaded. */
async function chromium(proxy: string, url: string): Promise<string> {
  const profile = await Deno.makeTempDir({ prefix: "warren-chromium-" });
  try {
    const r = await run("chromium", [
      "--headless",
      // The origin's certificate is the test's own, made above.
      "--ignore-certificate-errors",
      "--no-sandbox", // the tests run as root
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
      `--proxy-server=${proxy}`,
      // Chromium never proxies loopback names unless told to.
      "--proxy-bypass-list=<-loopback>",
      "--dump-dom",
      url,
    ], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  } finally {
    await Deno.remove(profile, { recursive: true });
  }
}

Deno.test({
  name: "browser: Chromium loads a page and its scripts through SOCKS5, the HTTP proxy and CONNECT",
  ignore,
  async fn() {
    await using sshd = await startSshd();
    const tls = await certificate(sshd.dir);
    await using origin = await startOrigin({ netns: sshd.netns, tls });
    const [http, https] = [origin.httpPort, origin.httpsPort!];
    const port = freePort();
    const args = warrenArgs(
      sshd,
      ...["-L", `socks/127.0.0.1:${port}`],
      ...["--route", `tunnel:localhost:${http}`, "--route", `tunnel:localhost:${https}`],
      ...["--route", "block:*"],
    );
    await using cli = new LiveCli(args);
    await cli.waitFor(new RegExp(`Proxy tunnel -L socks/127\\.0\\.0\\.1:${port}`));

    // "localhost" is resolved by sshd: the namespace's loopback, where the origin is.
    const page = `/page?parts=${PARTS}`;
    const expected = `<p id="parts">parts ${[...Array(PARTS).keys()].join(",")}</p>`;
    for (
      const [proxy, url] of [
        [`socks5://127.0.0.1:${port}`, `http://localhost:${http}${page}`],
        [`http://127.0.0.1:${port}`, `http://localhost:${http}${page}`],
        [`http://127.0.0.1:${port}`, `https://localhost:${https}${page}`],
      ]
    ) {
      const dom = await chromium(proxy, url);
      assert.ok(dom.includes(expected), `${url} via ${proxy}: ${dom}\n${cli.stderr}`);
    }
    assert.equal(await cli.stop("SIGTERM"), 0, cli.stderr);
  },
});
