/**
 * FTP tunnels against the in-process SSH server and a scripted FTP server:
 * all four data modes both ways, refusals, malformed replies, and the data
 * entries' lifetime (one use, idle timeout, superseded, control end).
 * The same tunnels against OpenSSH and vsftpd: tests/ftp_test.ts.
 */
import assert from "node:assert/strict";
import { connectSsh, type SshConnection } from "../../ssh/connection.ts";
import { ActivityTracker } from "../activity.ts";
import { setLogWriter, setupLogging } from "../../log.ts";
import { startTestServer, type TestServer } from "../../../tests/_harness/ssh_server.ts";
import { startFakeFtp } from "../../../tests/_harness/fake_ftp.ts";
import { type DataMode, MiniFtp } from "../../../tests/_harness/ftp_client.ts";
import { readAll, testBytes } from "../../../tests/_harness/local_servers.ts";
import { sshOptions, until } from "../../../tests/_harness/real_peers.ts";
import { DataHub, type FtpSsh, openLocalEntry } from "./data.ts";
import { openRemoteEntry } from "./data_remote.ts";
import type { IncomingTcpHandler } from "../../ssh/connection.ts";
import { dataListener, FtpLocalTunnel, FtpRemoteTunnel, type FtpTunnelOptions } from "./tunnel.ts";
import { sameHost } from "./session.ts";

const logLines: string[] = [];
setLogWriter((line) => logLines.push(line));
setupLogging("debug");

function connect(server: TestServer): Promise<SshConnection> {
  return connectSsh(sshOptions(server));
}

async function localTunnel(ssh: SshConnection, ftpPort: number, options?: FtpTunnelOptions) {
  const tunnel = new FtpLocalTunnel(
    {
      protocol: "ftp",
      listenAddress: "127.0.0.1",
      listenPort: 0,
      dstHost: "127.0.0.1",
      dstPort: ftpPort,
    },
    false,
    ssh,
    new ActivityTracker(),
    options,
  );
  await tunnel.start();
  return Object.assign(tunnel, { [Symbol.asyncDispose]: () => tunnel.close() });
}

const MODES: DataMode[] = ["pasv", "epsv", "port", "eprt"];

Deno.test("-L ftp/ carries RETR in PASV, EPSV, PORT and EPRT and leaves nothing behind", async () => {
  await using server = await startTestServer();
  const file = testBytes(300_000, 5);
  await using ftpd = startFakeFtp({ files: { f: file } });
  await using ssh = await connect(server);
  await using tunnel = await localTunnel(ssh, ftpd.port);
  await using ftp = (await MiniFtp.connect("127.0.0.1", tunnel.addresses[0].port))[0];
  await ftp.login();
  for (const mode of MODES) {
    assert.deepEqual(await ftp.transfer(mode, "RETR f"), file, mode);
  }
  // What the server saw points at the tunnel's server-side forward, not at us.
  assert.match(ftpd.commands.find((c) => c.startsWith("PORT"))!, /^PORT 127,0,0,1,\d+,\d+$/);
  await ftp.quit();
  await until(() => tunnel.dataStats.sessions === 0, "the session to end");
  const s = tunnel.dataStats;
  assert.deepEqual([s.listeners, s.forwards, s.transfers, s.total], [0, 0, 0, 4]);
});

Deno.test("-L ftp/ rewrites a multi-line 227 and one saying 0.0.0.0", async () => {
  await using server = await startTestServer();
  const file = testBytes(1000, 1);
  for (const opts of [{ multiline227: true }, { pasvHost: "0,0,0,0" }]) {
    await using ftpd = startFakeFtp({ files: { f: file }, ...opts });
    await using ssh = await connect(server);
    await using tunnel = await localTunnel(ssh, ftpd.port);
    await using ftp = (await MiniFtp.connect("127.0.0.1", tunnel.addresses[0].port))[0];
    await ftp.login();
    assert.deepEqual(await ftp.transfer("pasv", "RETR f"), file);
  }
});

Deno.test("-L ftp/ refuses a bounce PORT, AUTH TLS and LPRT without telling the server", async () => {
  await using server = await startTestServer();
  await using ftpd = startFakeFtp();
  await using ssh = await connect(server);
  await using tunnel = await localTunnel(ssh, ftpd.port);
  await using ftp = (await MiniFtp.connect("127.0.0.1", tunnel.addresses[0].port))[0];
  await ftp.login();
  assert.equal((await ftp.command("PORT 10,0,0,5,0,25")).code, 504);
  assert.equal((await ftp.command("EPRT |1|192.0.2.1|25|")).code, 504);
  assert.equal((await ftp.command("PORT 1,2,3")).code, 501);
  assert.match((await ftp.command("AUTH TLS")).text, /^534 .*SSH/);
  assert.equal((await ftp.command("LPRT 4,4,127,0,0,1,2,4,1")).code, 502);
  assert.equal((await ftp.command("NOOP")).code, 200);
  assert.ok(!ftpd.commands.some((c) => /^(PORT|EPRT|AUTH|LPRT)/.test(c)), ftpd.commands.join("|"));
  assert.ok(logLines.some((l) => /FTP bounce/.test(l)));
  assert.equal(tunnel.dataStats.forwards, 0);
});

Deno.test("-L ftp/ answers 425 when the data connection cannot be set up, and the session goes on", async () => {
  // The server refuses tcpip-forward, which PORT and EPRT through -L need.
  await using server = await startTestServer({ refuseForward: true });
  const file = testBytes(1000, 3);
  await using ftpd = startFakeFtp({ files: { f: file } });
  await using ssh = await connect(server);
  await using tunnel = await localTunnel(ssh, ftpd.port);
  await using ftp = (await MiniFtp.connect("127.0.0.1", tunnel.addresses[0].port))[0];
  await ftp.login();
  const reply = await ftp.command("PORT 127,0,0,1,200,10");
  assert.equal(reply.code, 425);
  assert.match(reply.text, /^425 Cannot open the data connection through the SSH tunnel/);
  assert.equal((await ftp.command("EPRT |1|127.0.0.1|51210|")).code, 425);
  assert.ok(!ftpd.commands.some((c) => /^(PORT|EPRT)/.test(c)), ftpd.commands.join("|"));
  // Passive mode does not need the refused request: the same session still transfers.
  assert.deepEqual(await ftp.transfer("pasv", "RETR f"), file);
  assert.equal(tunnel.dataStats.forwards, 0);
});

Deno.test("-L ftp/ passes malformed and odd replies through unchanged", async () => {
  await using server = await startTestServer();
  await using ftpd = startFakeFtp();
  await using ssh = await connect(server);
  await using tunnel = await localTunnel(ssh, ftpd.port);
  await using ftp = (await MiniFtp.connect("127.0.0.1", tunnel.addresses[0].port))[0];
  for (
    const text of ["227 no address here", "229 Entering (|||0|)", "200-multi\\n 229 x\\n200 end"]
  ) {
    const r = await ftp.command(`SAY ${text}`);
    assert.equal(r.text, `${text.replaceAll("\\n", "\r\n")}\r\n`);
  }
  await ftp.send("SAY junk without a code");
  assert.equal((await ftp.reply()).text, "junk without a code\r\n");
  assert.equal((await ftp.command("NOOP")).code, 200);
  assert.equal(tunnel.dataStats.listeners, 0);
});

Deno.test("FTP data entries close after the idle time, when superseded and when control ends", async () => {
  await using server = await startTestServer();
  await using ftpd = startFakeFtp();
  await using ssh = await connect(server);
  await using tunnel = await localTunnel(ssh, ftpd.port, { dataIdleMs: 300 });
  const [ftp] = await MiniFtp.connect("127.0.0.1", tunnel.addresses[0].port);
  await ftp.login();
  const r = await ftp.expect("PASV", 227);
  await ftp.expect("EPSV", 229);
  assert.equal(tunnel.dataStats.listeners, 1, "the second PASV supersedes the first");
  const m = /(\d+),(\d+)\)/.exec(r.text)!;
  await assert.rejects(
    Deno.connect({ hostname: "127.0.0.1", port: Number(m[1]) * 256 + Number(m[2]) }),
  );
  await ftp.expect(`PORT 127,0,0,1,4,1`, 200);
  assert.deepEqual([tunnel.dataStats.listeners, tunnel.dataStats.forwards], [0, 1]);
  await until(() => tunnel.dataStats.forwards === 0, "the idle forward to go");
  await ftp.expect("PASV", 227);
  await until(() => tunnel.dataStats.listeners === 0, "the idle listener to go");
  await ftp.expect("EPSV", 229);
  assert.equal(tunnel.dataStats.listeners, 1);
  ftp.close();
  await until(() => tunnel.dataStats.sessions === 0, "the session to end");
  assert.equal(tunnel.dataStats.listeners, 0);
});

Deno.test("a local data entry turns away other peers and waits for its own", async () => {
  const hub = new DataHub(5000);
  const entry = openLocalEntry(hub, {
    hostname: "127.0.0.1",
    allowedPeer: "192.0.2.7",
    label: "test",
    connect: () => Promise.reject(new Error("must not be called")),
  });
  const stranger = await Deno.connect({ hostname: "127.0.0.1", port: entry.port });
  const n = await stranger.read(new Uint8Array(1)).catch(() => null);
  stranger.close();
  assert.equal(n, null);
  assert.equal(entry.used, false);
  assert.deepEqual([hub.stats.listeners, hub.stats.total], [1, 0]);
  assert.ok(logLines.some((l) => /refused a data connection from 127\.0\.0\.1/.test(l)));
  await hub.close();
  assert.equal(hub.stats.listeners, 0);
});

Deno.test("data entries count loopback as one peer: a client on ::1 may come from 127.0.0.1", async () => {
  const hub = new DataHub(5000);
  const local = openLocalEntry(hub, {
    hostname: "127.0.0.1",
    allowedPeer: "::1",
    label: "local",
    connect: () => Promise.reject(new Error("no channel in this test")),
  });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: local.port });
  await readAll(conn).catch(() => {});
  conn.close();
  assert.equal(local.used, true, "127.0.0.1 was turned away");

  const handlers: IncomingTcpHandler[] = [];
  const ssh: FtpSsh = {
    forwardIn: (_a, _p, handler) => (handlers.push(handler), Promise.resolve(40_000)),
    unforwardIn: () => Promise.resolve(),
    openDirect: () => Promise.reject(new Error("not used")),
  };
  const remote = await openRemoteEntry(hub, ssh, {
    bind: "127.0.0.1",
    allowedPeer: "::1",
    label: "remote",
    dial: () => Promise.reject(new Error("nothing to dial in this test")),
  });
  const rejected: string[] = [];
  const incoming = (srcIP: string) =>
    handlers[0](
      { srcIP, srcPort: 5000, destIP: "127.0.0.1", destPort: 40_000 },
      () => assert.fail("accepted without a destination"),
      () => rejected.push(srcIP),
    );
  incoming("192.0.2.9");
  assert.equal(remote.used, false);
  incoming("127.0.0.1");
  assert.equal(remote.used, true, "127.0.0.1 was turned away");
  await hub.close();
  assert.deepEqual(rejected, ["192.0.2.9", "127.0.0.1"]); // the second after its dial failed
  assert.deepEqual([hub.stats.listeners, hub.stats.forwards, hub.stats.total], [0, 0, 2]);
});

Deno.test("-L ftp/ answers 421 when the SSH server refuses the control channel", async () => {
  await using server = await startTestServer({ refuseDirect: 2 });
  await using ssh = await connect(server);
  await using tunnel = await localTunnel(ssh, 21);
  const [ftp, greeting] = await MiniFtp.connect("127.0.0.1", tunnel.addresses[0].port);
  ftp.close();
  assert.equal(greeting.code, 421);
});

Deno.test("-R ftp/ carries RETR in all four modes with the roles reversed", async () => {
  await using server = await startTestServer();
  const file = testBytes(200_000, 9);
  await using ftpd = startFakeFtp({ files: { f: file } });
  await using ssh = await connect(server);
  const tunnel = new FtpRemoteTunnel(
    {
      protocol: "ftp",
      listenAddress: "127.0.0.1",
      listenPort: 0,
      dstHost: "127.0.0.1",
      dstPort: ftpd.port,
    },
    ssh,
    new ActivityTracker(),
  );
  await tunnel.start();
  try {
    const [ftp] = await MiniFtp.connect("127.0.0.1", tunnel.boundPort!);
    await ftp.login();
    for (const mode of MODES) assert.deepEqual(await ftp.transfer(mode, "RETR f"), file, mode);
    assert.equal((await ftp.command("PORT 10,0,0,5,0,25")).code, 504);
    await ftp.quit();
    await until(() => tunnel.dataStats.sessions === 0, "the session to end");
    const s = tunnel.dataStats;
    assert.deepEqual([s.listeners, s.forwards, s.transfers, s.total], [0, 0, 0, 4]);
  } finally {
    await tunnel.close();
  }
});

/** Whether this host has an IPv6 loopback to test with. */
function hasIpv6Loopback(): boolean {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name: "-L ftp/ gives a client on ::1 a PASV listener on 127.0.0.1 that lets it in",
  ignore: !hasIpv6Loopback(),
  async fn() {
    await using server = await startTestServer();
    const file = testBytes(50_000, 3);
    await using ftpd = startFakeFtp({ files: { f: file } });
    await using ssh = await connect(server);
    const spec = { protocol: "ftp" as const, listenAddress: "::1", listenPort: 0 };
    await using tunnel = Object.assign(
      new FtpLocalTunnel(
        { ...spec, dstHost: "127.0.0.1", dstPort: ftpd.port },
        false,
        ssh,
        new ActivityTracker(),
      ),
      { [Symbol.asyncDispose]: () => tunnel.close() },
    );
    await tunnel.start();
    await using ftp = (await MiniFtp.connect("::1", tunnel.addresses[0].port))[0];
    await ftp.login();
    // A 227 can only name 127.0.0.1; the client comes from there, not from ::1.
    for (const mode of ["pasv", "epsv", "eprt"] as const) {
      assert.deepEqual(await ftp.transfer(mode, "RETR f"), file, mode);
    }
  },
});

Deno.test({
  name: "-R ftp/ lets an FTP server on ::1 connect back to a PORT listener on 127.0.0.1",
  ignore: !hasIpv6Loopback(),
  async fn() {
    await using server = await startTestServer();
    const file = testBytes(50_000, 4);
    await using ftpd = startFakeFtp({ files: { f: file }, hostname: "::1" });
    await using ssh = await connect(server);
    const spec = { protocol: "ftp" as const, listenAddress: "127.0.0.1", listenPort: 0 };
    await using tunnel = Object.assign(
      new FtpRemoteTunnel(
        { ...spec, dstHost: "::1", dstPort: ftpd.port },
        ssh,
        new ActivityTracker(),
      ),
      { [Symbol.asyncDispose]: () => tunnel.close() },
    );
    await tunnel.start();
    await using ftp = (await MiniFtp.connect("127.0.0.1", tunnel.boundPort!))[0];
    await ftp.login();
    for (const mode of ["port", "eprt", "epsv"] as const) {
      assert.deepEqual(await ftp.transfer(mode, "RETR f"), file, mode);
    }
  },
});

Deno.test("data listeners: where PASV and PORT can name them, and an IPv6 peer they cannot", () => {
  // IPv4: on the address the peer reached, for that peer.
  assert.deepEqual(dataListener("127.0.0.1", "127.0.0.1", true), {
    hostname: "127.0.0.1",
    allowedPeer: "127.0.0.1",
  });
  assert.deepEqual(dataListener("::ffff:10.0.0.2", "10.0.0.9", true), {
    hostname: "10.0.0.2",
    allowedPeer: "10.0.0.9",
  });
  // IPv6 with EPSV/EPRT: as it is.
  assert.deepEqual(dataListener("fd00::2", "fd00::9", false), {
    hostname: "fd00::2",
    allowedPeer: "fd00::9",
  });
  // A 227 reply or PORT names IPv4 only: ::1 is served on 127.0.0.1 ...
  assert.deepEqual(dataListener("::1", "::1", true), {
    hostname: "127.0.0.1",
    allowedPeer: "::1",
  });
  // ... and any other IPv6 peer is refused, which the session answers with 425.
  assert.throws(
    () => dataListener("fd00::2", "fd00::9", true),
    /the peer fd00::9 uses IPv6, which a PASV reply or PORT command cannot name \(use EPSV or EPRT\)/,
  );
});

Deno.test("sameHost() compares a 227's address with the control connection's destination", () => {
  assert.ok(sameHost("127.0.0.1", "localhost"));
  assert.ok(sameHost("10.0.0.7", "10.0.0.7"));
  assert.ok(sameHost("2001:db8::1", "[2001:db8:0::1]"));
  assert.ok(!sameHost("127.0.0.2", "localhost"));
  assert.ok(!sameHost("10.0.0.9", "10.0.0.7"));
  assert.ok(!sameHost("10.0.0.9", "ftp.example.com"));
});
