/**
 * `-L ftp/` against real peers: OpenSSH sshd and vsftpd in a namespace whose
 * ports (control and data) are unreachable from the host, driven by real
 * clients: curl in all four data modes, lftp passive and active, and the npm
 * basic-ftp client; files compared byte for byte.
 *
 * Needs root, iproute2, sshd, vsftpd, curl and lftp; otherwise the tests are
 * ignored and one line on stderr says why.
 */
import assert from "node:assert/strict";
import { patternBytes } from "./_harness/pattern.ts";
import { MiniFtp } from "./_harness/ftp_client.ts";
import {
  basicFtp,
  curl,
  CURL_MODES,
  downloadInEveryMode,
  ftpCommands,
  ftpLocal,
  ignoreFtpTests,
  lftp,
  startFtpPeers,
  until,
} from "./_harness/ftp_peers.ts";

const ignore = ignoreFtpTests("real-peer FTP tests");
const MiB = 1024 * 1024;

Deno.test({
  name: "vsftpd in the namespace is unreachable from the host without the tunnel",
  ignore,
  async fn() {
    await using peers = await startFtpPeers();
    await assert.rejects(
      Deno.connect({ hostname: peers.sshd.netns.nsAddr, port: peers.vsftpd.port }),
      Deno.errors.ConnectionRefused,
    );
    // Its PASV replies name 127.0.0.1 ports that only exist in the namespace.
    await using tunnel = await ftpLocal(peers);
    const out = await curl([
      "--disable-epsv",
      "-v",
      `ftp://127.0.0.1:${tunnel.addresses[0].port}/`,
    ]);
    assert.equal(out.code, 0, out.stderr);
    const seen = /227 Entering Passive Mode \((127,0,0,1,\d+,\d+)\)/.exec(out.stderr)?.[1];
    const sent = /"227 Entering Passive Mode \((127,0,0,1,\d+,\d+)\)/.exec(await peers.vsftpd.log())
      ?.[1];
    assert.ok(seen && sent && seen !== sent, `client saw ${seen}, vsftpd sent ${sent}`);
  },
});

/** What vsftpd must see for each mode: PORT/EPRT name the SSH server's loopback. */
const SEEN: Record<string, RegExp> = {
  EPSV: /^EPSV$/,
  PASV: /^PASV$/,
  EPRT: /^EPRT \|1\|127\.0\.0\.1\|\d+\|$/,
  PORT: /^PORT 127,0,0,1,\d+,\d+$/,
};

for (const [mode, flags] of CURL_MODES) {
  const seen = SEEN[mode];
  Deno.test({
    name: `curl downloads, uploads and lists through -L ftp/ in ${mode} mode`,
    ignore,
    async fn() {
      await using peers = await startFtpPeers();
      await using tunnel = await ftpLocal(peers);
      const base = `ftp://127.0.0.1:${tunnel.addresses[0].port}/pub`;
      const file = patternBytes(3 * MiB, 11);
      await Deno.writeFile(`${peers.vsftpd.pub}/big.bin`, file);
      const got = `${peers.work}/got.bin`;
      const down = await curl([...flags, "-o", got, `${base}/big.bin`]);
      assert.equal(down.code, 0, down.stderr);
      assert.deepEqual(await Deno.readFile(got), file);

      const up = patternBytes(MiB + 17, 12);
      await Deno.writeFile(`${peers.work}/up.bin`, up);
      const put = await curl([...flags, "-T", `${peers.work}/up.bin`, `${base}/up.bin`]);
      assert.equal(put.code, 0, put.stderr);
      assert.deepEqual(await Deno.readFile(`${peers.vsftpd.pub}/up.bin`), up);

      const list = await curl([...flags, "-l", `${base}/`]);
      assert.equal(list.code, 0, list.stderr);
      assert.deepEqual(list.stdout.trim().split(/\r?\n/).sort(), ["big.bin", "up.bin"]);

      const commands = await ftpCommands(peers.vsftpd);
      assert.equal(commands.filter((c) => seen.test(c)).length, 3, commands.join(" | "));
      await until(() => tunnel.dataStats.sessions === 0, "the sessions to end");
      assert.deepEqual(stillOpen(tunnel.dataStats), [0, 0, 0]);
    },
  });
}

Deno.test({
  name: "a client on another host uses -g -L ftp/ in all four modes",
  ignore,
  async fn() {
    // The namespace is the other host: it reaches this one at hostAddr.
    await using peers = await startFtpPeers();
    await using tunnel = await ftpLocal(peers, true);
    const file = patternBytes(300_000, 13);
    await Deno.writeFile(`${peers.vsftpd.pub}/f.bin`, file);
    const url = `ftp://${peers.netns.hostAddr}:${tunnel.addresses[0].port}/pub/f.bin`;
    await downloadInEveryMode(peers, url, file, peers.netns);
    // One data command each: every mode went through the tunnel.
    const commands = await ftpCommands(peers.vsftpd);
    assert.equal(commands.filter((c) => /^(EPSV|PASV|EPRT|PORT)/.test(c)).length, 4);
  },
});

Deno.test({
  name: "lftp gets, puts and lists through -L ftp/ in passive and active mode",
  ignore,
  async fn() {
    await using peers = await startFtpPeers();
    await using tunnel = await ftpLocal(peers);
    const port = tunnel.addresses[0].port;
    const file = patternBytes(2 * MiB + 3, 21);
    await Deno.writeFile(`${peers.vsftpd.pub}/a.bin`, file);
    await Deno.writeFile(`${peers.work}/local.bin`, file.subarray(5));
    for (const passive of ["on", "off"]) {
      const got = `${peers.work}/got-${passive}.bin`;
      const out = await lftp([
        `set ftp:passive-mode ${passive}`,
        `open -u anonymous,x -p ${port} 127.0.0.1`,
        "cd pub",
        `get a.bin -o ${got}`,
        `put ${peers.work}/local.bin -o up-${passive}.bin`,
        "cls -1",
      ]);
      assert.equal(out.code, 0, out.stderr);
      assert.deepEqual(await Deno.readFile(got), file);
      assert.deepEqual(
        await Deno.readFile(`${peers.vsftpd.pub}/up-${passive}.bin`),
        file.subarray(5),
      );
      assert.ok(out.stdout.includes(`up-${passive}.bin`), out.stdout);
    }
    const commands = await ftpCommands(peers.vsftpd);
    assert.ok(commands.some((c) => /^(PASV|EPSV)$/.test(c)), commands.join(" | "));
    assert.ok(commands.some((c) => /^(PORT|EPRT) /.test(c)), commands.join(" | "));
  },
});

Deno.test({
  name: "basic-ftp uploads, downloads and lists through -L ftp/",
  ignore,
  async fn() {
    await using peers = await startFtpPeers();
    await using tunnel = await ftpLocal(peers);
    using client = await basicFtp(tunnel.addresses[0].port);
    const data = patternBytes(MiB + 99, 31);
    await Deno.writeFile(`${peers.work}/up.bin`, data);
    await client.uploadFrom(`${peers.work}/up.bin`, "pub/up.bin");
    await client.downloadTo(`${peers.work}/down.bin`, "pub/up.bin");
    assert.deepEqual(await Deno.readFile(`${peers.work}/down.bin`), data);
    assert.deepEqual(await Deno.readFile(`${peers.vsftpd.pub}/up.bin`), data);
    await client.ensureDir("pub/dir");
    const list = await client.list("/pub");
    assert.deepEqual(list.map((f) => [f.name, f.isDirectory]).sort(), [
      ["dir", true],
      ["up.bin", false],
    ]);
  },
});

Deno.test({
  name: "-L ftp/ refuses an FTP bounce and AUTH TLS before vsftpd sees them",
  ignore,
  async fn() {
    await using peers = await startFtpPeers();
    await using tunnel = await ftpLocal(peers);
    const [ftp] = await MiniFtp.connect("127.0.0.1", tunnel.addresses[0].port);
    try {
      await ftp.login();
      const target = peers.sshd.netns.hostAddr.split(".").join(",");
      assert.equal((await ftp.command(`PORT ${target},0,22`)).code, 504);
      assert.match((await ftp.command("AUTH TLS")).text, /^534 /);
      assert.equal((await ftp.command("NOOP")).code, 200);
    } finally {
      await ftp.quit();
    }
    const commands = await ftpCommands(peers.vsftpd);
    assert.ok(!commands.some((c) => /^(PORT|AUTH)/.test(c)), commands.join(" | "));
    // curl --ssl goes on in plain FTP after the 534; --ssl-reqd stops.
    const url = `ftp://127.0.0.1:${tunnel.addresses[0].port}/`;
    const tryTls = await curl(["--ssl", url]);
    assert.equal(tryTls.code, 0, tryTls.stderr);
    const needTls = await curl(["--ssl-reqd", url]);
    assert.notEqual(needTls.code, 0);
  },
});

function stillOpen(s: { listeners: number; forwards: number; transfers: number }): number[] {
  return [s.listeners, s.forwards, s.transfers];
}
