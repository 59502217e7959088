/**
 * Log volume under floods someone else drives (issue 19, part 5): no log line
 * may come at the rate of a hostile party's connections. The first line of a
 * kind from one address keeps its detail; the rest are counted in one
 * "... and N more ... like it" line per 10 s (and at shutdown).
 *
 * - 1,000 bad proxy requests (raw SOCKS5 BIND requests and curl sending an
 *   origin-form request) at the warren CLI's `-L socks/`, against OpenSSH
 *   sshd: before, one warning each.
 * - 30 OpenSSH clients with a key warren serve does not know: before, three
 *   lines each (connection, refused key, closed).
 *
 * Needs root (namespaces), openssh-server and curl; otherwise ignored with
 * one line on stderr.
 */
import assert from "node:assert/strict";
import { LiveCli } from "./_harness/cli.ts";
import { curl, realPeersUnsupported, warrenArgs } from "./_harness/real_peers.ts";
import { freePort, startBrokerRig } from "./_harness/broker_rig.ts";
import { serveTestsSkipReason, sshTo, startServe } from "./_harness/serve.ts";
import { writeAll } from "../lib/net/io.ts";
import { skipWhen } from "./_harness/skip.ts";

const ignoreProxy = skipWhen("proxy log flood test", realPeersUnsupported("curl"));
const ignoreServe = skipWhen("serve log flood test", serveTestsSkipReason());

/** The summary lines' counts: "... and N more <what> like it". */
function summarised(log: string, what: string): number[] {
  const re = new RegExp(`\\.\\.\\. and (\\d+) more ${what} like it in the last \\d+ s`, "g");
  return [...log.matchAll(re)].map((m) => Number(m[1]));
}

const sum = (ns: number[]) => ns.reduce((a, b) => a + b, 0);

/** A SOCKS5 client that asks for BIND (refused: CONNECT only) and reads the reply to the end. */
async function socksBind(port: number): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(conn, Uint8Array.of(5, 1, 0, 5, 2, 0, 1, 127, 0, 0, 1, 0, 80));
    const buf = new Uint8Array(64);
    while (await conn.read(buf) !== null) { /* the method choice, then the 0x07 reply */ }
  } finally {
    conn.close();
  }
}

Deno.test({
  name: "1,000 bad proxy requests from one address cost a few log lines, not one each",
  ignore: ignoreProxy,
  async fn() {
    await using rig = await startBrokerRig();
    const port = freePort();
    await using cli = new LiveCli(warrenArgs(rig.sshd, "-L", `socks/${port}`), { env: rig.env });
    await cli.waitFor(/Proxy tunnel -L socks\//);
    const RAW = 990;
    for (let i = 0; i < RAW; i += 30) {
      await Promise.all(Array.from({ length: Math.min(30, RAW - i) }, () => socksBind(port)));
    }
    for (let i = 0; i < 10; i++) {
      // curl talking to the proxy as if it were the web server: 400.
      const r = await curl(["-o", "/dev/null", "-w", "%{http_code}", `http://127.0.0.1:${port}/`]);
      assert.equal(r.stdout, "400", r.stderr);
    }
    // The proxy still serves a good client.
    const ok = await curl([
      "--socks5-hostname",
      `127.0.0.1:${port}`,
      `http://127.0.0.1:${rig.origin.httpPort}/hello`,
    ]);
    assert.equal(ok.stdout, "hello from origin\n", ok.stderr);
    assert.equal(await cli.stop("SIGTERM"), 0, cli.stderr);

    const log = cli.stderr;
    const detailed = [...log.matchAll(/proxy request failed: (.*)/g)].map((m) => m[1]);
    const counts = summarised(log, "failed proxy requests");
    const lines = log.split("\n").filter((l) => /proxy request|failed proxy requests/.test(l));
    console.error(
      `  ${RAW + 10} bad requests, ${lines.length} log lines:\n    ${lines.join("\n    ")}`,
    );
    // Every bad request is accounted for, and each interval (10 s) costs at most two lines.
    assert.equal(detailed.length + sum(counts), RAW + 10, log);
    assert.ok(lines.length <= 6, log);
    assert.match(detailed[0], /SOCKS5 command 2 is not supported/);
  },
});

Deno.test({
  name: "30 logins with an unknown key cost warren serve a few log lines, not three each",
  ignore: ignoreServe,
  async fn() {
    await using served = await startServe();
    const N = 30;
    for (let i = 0; i < N; i++) {
      const r = await sshTo(served, [], ["true"], served.otherKey);
      assert.equal(r.code, 255, r.stderr);
    }
    // The right key from the same address, meanwhile: its "connection from" line is counted
    // too, so the accepted line names the address.
    await sshTo(served, [], ["true"]);
    await served.cli.waitFor(/accepted publickey .* from \S+:\d+$/m);
    assert.equal(await served.stop(), 0, served.log());
    const log = served.log();
    const refused = [
      ...log.matchAll(/refused publickey .* the key is not in the authorized keys/g),
    ];
    const counts = summarised(log, "refused keys");
    const lines = log.split("\n").filter((l) => /#\d+ |\.\.\. and/.test(l));
    console.error(`  ${N} refused logins, ${lines.length} log lines:\n    ${lines.join("\n    ")}`);
    assert.equal(refused.length + sum(counts), N, log);
    assert.ok(lines.length <= 12, log);
  },
});
