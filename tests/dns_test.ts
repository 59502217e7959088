/**
 * `warren -L dns/...` as a user runs it, against OpenSSH sshd in a network
 * namespace where dnsmasq answers names only it knows. `dig` here asks
 * warren's port over UDP and TCP; the queries travel as DNS-over-TCP
 * through direct-tcpip channels, reused across queries.
 *
 * Needs root, iproute2, openssh-server, dnsmasq and dig (dnsutils);
 * otherwise ignored with one line on stderr saying why.
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { Buffer } from "node:buffer";
import { LiveCli } from "./_harness/cli.ts";
import { freePort, randomPort } from "./_harness/free_port.ts";
import { realPeersUnsupported, run, warrenArgs } from "./_harness/real_peers.ts";
import { type Sshd, startSshd } from "./_harness/sshd.ts";
import { skipWhen } from "./_harness/skip.ts";
import { tempDir } from "./_harness/temp_dir.ts";
import { LiveProc } from "./_harness/live_proc.ts";
import { buildQuery } from "../lib/protocols/dns.ts";
import { MAX_CHANNELS } from "../lib/tunnel/dns/upstream.ts";

const ignore = skipWhen("DNS tunnel tests", realPeersUnsupported("dig", "dnsmasq"));
const NAME = "only-far.warren.test";
const ADDRESS = "10.1.2.3";
const BIG = "big.warren.test";
const CHUNK = "x".repeat(200);

/** dnsmasq in the namespace: authoritative for NAME and BIG, nothing else, no upstream. */
async function startDnsmasq(sshd: Sshd, dir: string, port: number): Promise<LiveProc> {
  const proc = new LiveProc(sshd.netns.command("dnsmasq", [
    "--keep-in-foreground",
    "--conf-file=/dev/null",
    "--no-resolv",
    "--no-hosts",
    "--bind-interfaces",
    "--listen-address=127.0.0.1",
    `--port=${port}`,
    "--user=root",
    `--pid-file=${dir}/dnsmasq.pid`,
    "--log-facility=-",
    `--host-record=${NAME},${ADDRESS}`,
    `--txt-record=${BIG},${CHUNK},${CHUNK},${CHUNK}`,
  ], { stdin: "null", stdout: "piped", stderr: "piped" }));
  await proc.waitFor(/started, version/);
  return proc;
}

/** A server in the namespace that accepts TCP and never answers. */
async function startSilent(sshd: Sshd, port: number): Promise<LiveProc> {
  const proc = new LiveProc(sshd.netns.command(Deno.execPath(), [
    "eval",
    `const l = Deno.listen({ hostname: "127.0.0.1", port: ${port} }); console.log("up");` +
    "for await (const c of l) (async () => { const b = new Uint8Array(512);" +
    " while (await c.read(b) !== null) {} })();",
  ], { stdin: "null", stdout: "piped", stderr: "piped" }));
  await proc.waitFor(/up/);
  return proc;
}

function dig(port: number, ...args: string[]) {
  return run("dig", ["@127.0.0.1", "-p", `${port}`, "+tries=1", "+timeout=15", ...args], {
    timeoutMs: 30_000,
  });
}

/** Send `packets` from one UDP socket; collect answers until `want` came or `ms` passed. */
async function udpExchange(
  port: number,
  packets: Uint8Array[],
  want: number,
  ms = 15_000,
): Promise<Buffer[]> {
  const socket = dgram.createSocket("udp4");
  const answers: Buffer[] = [];
  const done = Promise.withResolvers<void>();
  socket.on("message", (m: Buffer) => {
    answers.push(m);
    if (answers.length >= want) done.resolve();
  });
  await new Promise<void>((r) => socket.bind(0, "127.0.0.1", r));
  for (const p of packets) socket.send(p, port, "127.0.0.1");
  const timer = setTimeout(done.resolve, ms);
  await done.promise;
  clearTimeout(timer);
  await new Promise<void>((r) => socket.close(() => r()));
  return answers;
}

const id = (b: Uint8Array) => (b[0] << 8) | b[1];
const hasAddress = (b: Uint8Array) =>
  Buffer.from(b).includes(Buffer.from(ADDRESS.split(".").map(Number)));

Deno.test({
  name: "cli: -L dns/ resolves a name only the far side knows, over UDP and TCP, reusing channels",
  ignore,
  async fn() {
    await using sshd = await startSshd();
    await using dir = await tempDir("warren-dns-");
    const dnsPort = randomPort();
    const silentPort = randomPort();
    await using _dnsmasq = await startDnsmasq(sshd, dir.path, dnsPort);
    await using _silent = await startSilent(sshd, silentPort);
    const [p1, p2, p3] = [freePort(), freePort(), freePort()];
    await using cli = new LiveCli(warrenArgs(
      sshd,
      "-v",
      ...["-L", `dns/127.0.0.1:${p1}:localhost:${dnsPort}`],
      ...["-L", `dns/127.0.0.1:${p2}:localhost:${silentPort}`],
      ...["-L", `dns/127.0.0.1:${p3}:localhost:1`], // nothing listens there
    ));
    for (const p of [p1, p2, p3]) {
      await cli.waitFor(new RegExp(`DNS tunnel -L dns/127\\.0\\.0\\.1:${p} \\(UDP and TCP\\)`));
    }

    // The name is unknown here: only through the tunnel does it resolve.
    for (const mode of ["+notcp", "+tcp"]) {
      const r = await dig(p1, mode, "+short", NAME);
      assert.equal(r.stdout.trim(), ADDRESS, `${mode}: ${r.stdout}${r.stderr}`);
    }
    // An answer too big for UDP without EDNS: truncated, and dig retries over TCP.
    const big = await dig(p1, "+notcp", "+noedns", "TXT", BIG);
    assert.equal(big.code, 0, big.stderr);
    assert.equal(big.stdout.split(CHUNK).length - 1, 3, big.stdout);
    assert.match(big.stdout + big.stderr, /Truncated, retrying in TCP mode/);

    // 200 queries at once over UDP, one ID each.
    const queries = Array.from({ length: 200 }, (_, i) => buildQuery(1000 + i, NAME));
    const answers = await udpExchange(p1, queries, queries.length);
    assert.equal(answers.length, queries.length);
    assert.deepEqual(answers.map(id).sort((a, b) => a - b), queries.map(id));
    assert.ok(answers.every(hasAddress), "an answer without the address");

    // 50 queries pipelined on one TCP connection.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: p1 });
    const framed = queries.slice(0, 50).map((q) => Uint8Array.of(q.length >> 8, q.length, ...q));
    await conn.write(new Uint8Array(framed.flatMap((f) => [...f])));
    const got: number[] = [];
    let have = new Uint8Array(0);
    const buf = new Uint8Array(8192);
    while (got.length < 50) {
      const n = await conn.read(buf);
      assert.notEqual(n, null, `TCP closed after ${got.length} answers`);
      have = Uint8Array.of(...have, ...buf.subarray(0, n!));
      while (have.length >= 2 && have.length >= 2 + ((have[0] << 8) | have[1])) {
        const len = (have[0] << 8) | have[1];
        const answer = have.slice(2, 2 + len);
        assert.ok(hasAddress(answer));
        got.push(id(answer));
        have = have.slice(2 + len);
      }
    }
    conn.close();
    assert.deepEqual(got.sort((a, b) => a - b), queries.slice(0, 50).map(id));

    // Garbage is dropped (a debug line each); a good query after it is answered.
    const garbage = [
      new Uint8Array(3),
      crypto.getRandomValues(new Uint8Array(40)),
      Uint8Array.from(buildQuery(5, NAME), (b, i) => i === 2 ? b | 0x80 : b), // a "response"
    ];
    const afterGarbage = await udpExchange(p1, [...garbage, buildQuery(4242, NAME)], 1);
    assert.deepEqual(afterGarbage.map(id), [4242]);

    // A resolver that never answers, and one that cannot be reached: SERVFAIL.
    const silent = await dig(p2, "+notcp", NAME);
    assert.match(silent.stdout, /status: SERVFAIL/, silent.stdout + silent.stderr);
    const closed = await dig(p3, "+tcp", NAME);
    assert.match(closed.stdout, /status: SERVFAIL/, closed.stdout + closed.stderr);

    assert.equal(await cli.stop("SIGTERM"), 0, cli.stderr);
    assert.equal(cli.stderr.match(/DNS packet dropped/g)?.length, garbage.length, cli.stderr);
    assert.match(cli.stderr, /warning: \[tunnel\.dns\] DNS resolver localhost:1: Server refused/);
    // Every query to dnsmasq went through a handful of channels.
    const log = await sshd.log();
    const channels = log.match(new RegExp(`direct_tcpip: .*port ${dnsPort}\\b`, "g")) ?? [];
    assert.ok(channels.length >= 1, "no direct-tcpip channel to dnsmasq in sshd's log");
    assert.ok(channels.length <= MAX_CHANNELS, `${channels.length} channels for 255 queries`);
  },
});
