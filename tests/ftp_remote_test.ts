/**
 * `-R ftp/` against real peers, roles reversed: vsftpd on this host's
 * loopback, the FTP clients (curl, lftp) inside the SSH server's namespace,
 * where none of vsftpd's ports exist: the control connection and every data
 * connection must come through the tunnel.
 */
import assert from "node:assert/strict";
import { patternBytes } from "./_harness/pattern.ts";
import {
  curl,
  CURL_MODES,
  downloadInEveryMode,
  ftpCommands,
  ftpRemote,
  ignoreFtpTests,
  lftp,
  startFtpPeers,
  until,
} from "./_harness/ftp_peers.ts";
import { listeningSockets } from "./_harness/vsftpd.ts";

const ignore = ignoreFtpTests("real-peer -R ftp/ tests");
const MiB = 1024 * 1024;

Deno.test({
  name: "curl on the server side uses -R ftp/ in EPSV, PASV, EPRT and PORT mode",
  ignore,
  async fn() {
    await using peers = await startFtpPeers("client");
    const netns = peers.sshd.netns;
    const before = (await listeningSockets(netns)).sort();
    await using tunnel = await ftpRemote(peers);
    const base = `ftp://127.0.0.1:${tunnel.boundPort}/pub`;
    // Without the tunnel the namespace cannot reach vsftpd.
    const direct = await curl([`ftp://127.0.0.1:${peers.vsftpd.port}/`], netns);
    assert.notEqual(direct.code, 0);
    const file = patternBytes(2 * MiB + 5, 51);
    await Deno.writeFile(`${peers.vsftpd.pub}/big.bin`, file);
    for (const [mode, flags] of CURL_MODES) {
      const got = `${peers.work}/got-${mode}.bin`;
      const down = await curl([...flags, "-o", got, `${base}/big.bin`], netns);
      assert.equal(down.code, 0, `${mode}: ${down.stderr}`);
      assert.deepEqual(await Deno.readFile(got), file, mode);
      const up = file.subarray(mode.length);
      await Deno.writeFile(`${peers.work}/up-${mode}.bin`, up);
      const put = await curl([
        ...flags,
        "-T",
        `${peers.work}/up-${mode}.bin`,
        `${base}/up-${mode}.bin`,
      ], netns);
      assert.equal(put.code, 0, `${mode}: ${put.stderr}`);
      assert.deepEqual(await Deno.readFile(`${peers.vsftpd.pub}/up-${mode}.bin`), up, mode);
    }
    const commands = await ftpCommands(peers.vsftpd);
    for (const verb of ["EPSV", "PASV", "EPRT", "PORT"]) {
      assert.ok(commands.some((c) => c.split(" ")[0] === verb), `${verb}: ${commands.join(" | ")}`);
    }
    await until(() => tunnel.dataStats.sessions === 0, "the sessions to end");
    const s = tunnel.dataStats;
    assert.deepEqual([s.listeners, s.forwards, s.transfers, s.total], [0, 0, 0, 8]);
    await tunnel.close();
    assert.deepEqual((await listeningSockets(netns)).sort(), before);
  },
});

Deno.test({
  name: "lftp on the server side uses -R ftp/ in passive and active mode",
  ignore,
  async fn() {
    await using peers = await startFtpPeers("client");
    await using tunnel = await ftpRemote(peers);
    const file = patternBytes(MiB + 7, 61);
    await Deno.writeFile(`${peers.vsftpd.pub}/a.bin`, file);
    for (const passive of ["on", "off"]) {
      const got = `${peers.work}/got-${passive}.bin`;
      const out = await lftp([
        `set ftp:passive-mode ${passive}`,
        `open -u anonymous,x -p ${tunnel.boundPort} 127.0.0.1`,
        `get pub/a.bin -o ${got}`,
        "cls -1 pub",
      ], peers.sshd.netns);
      assert.equal(out.code, 0, out.stderr);
      assert.deepEqual(await Deno.readFile(got), file);
      assert.match(out.stdout, /a\.bin/);
    }
  },
});

Deno.test({
  name: "-R ftp/*:... with GatewayPorts serves a client on another host in all four modes",
  ignore,
  async fn() {
    // This host is the other one: it reaches sshd's forward at the namespace's address.
    await using peers = await startFtpPeers("client", ["GatewayPorts clientspecified"]);
    await using tunnel = await ftpRemote(peers, "*");
    const file = patternBytes(200_000, 71);
    await Deno.writeFile(`${peers.vsftpd.pub}/f.bin`, file);
    const url = `ftp://${peers.netns.nsAddr}:${tunnel.boundPort}/pub/f.bin`;
    await downloadInEveryMode(peers, url, file);
  },
});
