/**
 * Real clients behind `warren -L socks/`, each as its users configure it,
 * against an origin that only sshd's namespace reaches: names are resolved by
 * sshd ("localhost" is the namespace's loopback, where the origin is), and
 * HTTPS runs end to end with the origin through CONNECT.
 *
 * - Headless Chromium loads a page of a dozen scripts, which it fetches over
 *   several parallel connections; the page itself reports which ran, in order.
 *   Its own background requests are kept off the tunnel twice: by its flags,
 *   and by warren's routes, which tunnel the origin and block the rest.
 * - git clones a repository over dumb HTTP (http.proxy), as SOCKS5 and as an
 *   HTTP proxy, and over HTTPS.
 *
 * Needs root, iproute2, openssh-server, openssl, git and Debian's chromium;
 * otherwise ignored with one line on stderr saying why.
 */
import assert from "node:assert/strict";
import { LiveCli } from "./_harness/cli.ts";
import { freePort } from "./_harness/free_port.ts";
import { type Origin, startOrigin } from "./_harness/origin.ts";
import { patternBytes } from "./_harness/pattern.ts";
import { chromiumDom, realPeersUnsupported, run, warrenArgs } from "./_harness/real_peers.ts";
import { skipWhen } from "./_harness/skip.ts";
import { type Sshd, startSshd } from "./_harness/sshd.ts";

const ignore = skipWhen(
  "proxy client tests",
  realPeersUnsupported("chromium", "openssl", "git"),
);
const PARTS = 12;

interface Rig extends AsyncDisposable {
  sshd: Sshd;
  origin: Origin;
  /** The origin's HTTP and HTTPS ports, in sshd's namespace. */
  http: number;
  https: number;
  /** warren's proxy port, on 127.0.0.1. */
  proxy: number;
  cli: LiveCli;
}

/**
 * sshd, an HTTP+HTTPS origin behind it serving `files` (a directory), and
 * warren's proxy in front, routing only the origin's two ports.
 */
async function startRig(files?: (dir: string) => Promise<string>): Promise<Rig> {
  const stack = new AsyncDisposableStack();
  try {
    const sshd = stack.use(await startSshd());
    const tls = await certificate(sshd.dir);
    const origin = stack.use(
      await startOrigin({ netns: sshd.netns, tls, files: await files?.(sshd.dir) }),
    );
    const [http, https] = [origin.httpPort, origin.httpsPort!];
    const proxy = freePort();
    const args = warrenArgs(
      sshd,
      ...["-L", `socks/127.0.0.1:${proxy}`],
      ...["--route", `tunnel:localhost:${http}`, "--route", `tunnel:localhost:${https}`],
      ...["--route", "block:*"],
    );
    const cli = stack.use(new LiveCli(args));
    await cli.waitFor(new RegExp(`Proxy tunnel -L socks/127\\.0\\.0\\.1:${proxy}`));
    const moved = stack.move();
    return {
      sshd,
      origin,
      http,
      https,
      proxy,
      cli,
      [Symbol.asyncDispose]: () => moved.disposeAsync(),
    };
  } catch (err) {
    await stack.disposeAsync();
    throw err;
  }
}

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

/** Chromium through warren's proxy `proxy` (a --proxy-server URL). */
function chromium(proxy: string, url: string): Promise<string> {
  return chromiumDom(url, [
    // The origin's certificate is the test's own, made above.
    "--ignore-certificate-errors",
    `--proxy-server=${proxy}`,
    // Chromium never proxies loopback names unless told to.
    "--proxy-bypass-list=<-loopback>",
  ]);
}

Deno.test({
  name: "browser: Chromium loads a page and its scripts through SOCKS5, the HTTP proxy and CONNECT",
  ignore,
  async fn() {
    await using rig = await startRig();
    const page = `/page?parts=${PARTS}`;
    const expected = `<p id="parts">parts ${[...Array(PARTS).keys()].join(",")}</p>`;
    const { proxy, http, https } = rig;
    for (
      const [via, url] of [
        [`socks5://127.0.0.1:${proxy}`, `http://localhost:${http}${page}`],
        [`http://127.0.0.1:${proxy}`, `http://localhost:${http}${page}`],
        [`http://127.0.0.1:${proxy}`, `https://localhost:${https}${page}`],
      ]
    ) {
      let dom = await chromium(via, url);
      if (!dom.includes(expected)) {
        // Chromium aborts requests in flight with ERR_NETWORK_CHANGED when an
        // interface changes (its net log shows it), and this machine's test
        // namespaces come and go; chromiumDom() waits out this rig's veth, but
        // another test's can still change. One more load is allowed, and
        // said; two failed loads fail the test.
        console.error(
          `proxy_clients_test: ${url} via ${via} loaded ${
            dom.match(/parts [\d,]*/)?.[0]
          }; once more`,
        );
        dom = await chromium(via, url);
      }
      assert.ok(dom.includes(expected), `${url} via ${via}: ${dom}\n${rig.cli.stderr}`);
    }
    assert.equal(await rig.cli.stop("SIGTERM"), 0, rig.cli.stderr);
  },
});

/** git with a fixed identity and no user or system configuration. */
function git(args: string[]) {
  return run("git", [
    ...["-c", "user.name=warren test", "-c", "user.email=test@warren.invalid"],
    ...args,
  ], { env: { GIT_CONFIG_NOSYSTEM: "1", GIT_TERMINAL_PROMPT: "0" } });
}

/** A bare repository `repo.git` under `dir/files`, ready for dumb HTTP; returns `dir/files`. */
async function bareRepository(dir: string): Promise<string> {
  const work = `${dir}/work`;
  await Deno.mkdir(work);
  await Deno.writeFile(`${work}/data.bin`, patternBytes(2 * 1024 * 1024, 9));
  await Deno.writeTextFile(`${work}/README`, "cloned through warren\n");
  for (
    const args of [
      ["init", "-q", work],
      ["-C", work, "add", "."],
      ["-C", work, "commit", "-q", "-m", "first"],
      ["clone", "-q", "--bare", work, `${dir}/files/repo.git`],
      ["-C", `${dir}/files/repo.git`, "update-server-info"],
    ]
  ) {
    const r = await git(args);
    assert.equal(r.code, 0, `git ${args.join(" ")}: ${r.stderr}`);
  }
  return `${dir}/files`;
}

Deno.test({
  name: "git: clones over dumb HTTP through SOCKS5 and the HTTP proxy, and over HTTPS by CONNECT",
  ignore,
  async fn() {
    await using rig = await startRig(bareRepository);
    const head = (await git(["-C", `${rig.sshd.dir}/files/repo.git`, "rev-parse", "HEAD"])).stdout;
    assert.match(head, /^[0-9a-f]{40}\n$/);
    const { proxy, http, https } = rig;
    const cases = [
      [`socks5h://127.0.0.1:${proxy}`, `http://localhost:${http}/files/repo.git`],
      [`http://127.0.0.1:${proxy}`, `http://localhost:${http}/files/repo.git`],
      [`http://127.0.0.1:${proxy}`, `https://localhost:${https}/files/repo.git`],
    ];
    for (const [i, [via, url]] of cases.entries()) {
      const out = `${rig.sshd.dir}/clone${i}`;
      const r = await git([
        ...["-c", `http.proxy=${via}`, "-c", "http.sslVerify=false"],
        ...["clone", "-q", url, out],
      ]);
      assert.equal(r.code, 0, `${url} via ${via}: ${r.stderr}\n${rig.cli.stderr}`);
      assert.equal((await git(["-C", out, "rev-parse", "HEAD"])).stdout, head);
      assert.deepEqual(await Deno.readFile(`${out}/data.bin`), patternBytes(2 * 1024 * 1024, 9));
      assert.equal(await Deno.readTextFile(`${out}/README`), "cloned through warren\n");
    }
    assert.equal(await rig.cli.stop("SIGTERM"), 0, rig.cli.stderr);
  },
});
