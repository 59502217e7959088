/**
 * The warren CLI as a user runs it (`deno run` with lib/permissions.ts's
 * flags and main.ts) with `-L ftp/` and `-R ftp/`, against OpenSSH and
 * vsftpd: the spec's `-L ftp/1234:localhost:21`-style commands end to end.
 */
import assert from "node:assert/strict";
import { LiveCli } from "./_harness/cli.ts";
import { freePort } from "./_harness/free_port.ts";
import { patternBytes } from "./_harness/pattern.ts";
import { warrenArgs } from "./_harness/real_peers.ts";
import { curl, type FtpPeers, ignoreFtpTests, startFtpPeers } from "./_harness/ftp_peers.ts";

const ignore = ignoreFtpTests("FTP CLI tests");

function args(peers: FtpPeers, ...extra: string[]): string[] {
  return warrenArgs(peers.sshd, ...extra);
}

Deno.test({
  name: "warren -L ftp/PORT:localhost:21 serves passive and active curl transfers",
  ignore,
  async fn() {
    await using peers = await startFtpPeers();
    const file = patternBytes(1024 * 1024 + 3, 91);
    await Deno.writeFile(`${peers.vsftpd.pub}/f.bin`, file);
    const port = freePort();
    await using cli = new LiveCli(args(peers, "-L", `ftp/${port}:localhost:${peers.vsftpd.port}`));
    await cli.waitFor(/FTP tunnel -L ftp\/127\.0\.0\.1:\d+/);
    for (const flags of [["--disable-epsv"], ["-P", "-", "--disable-eprt"]]) {
      const out = `${peers.work}/f-${flags.length}.bin`;
      const r = await curl([...flags, "-o", out, `ftp://127.0.0.1:${port}/pub/f.bin`]);
      assert.equal(r.code, 0, `${flags}: ${r.stderr}\n${cli.stderr}`);
      assert.deepEqual(await Deno.readFile(out), file);
    }
    assert.equal(await cli.stop("SIGTERM"), 0, cli.stderr);
  },
});

Deno.test({
  name: "warren -R ftp/PORT:127.0.0.1:PORT serves curl on the server side",
  ignore,
  async fn() {
    await using peers = await startFtpPeers("client");
    const file = patternBytes(512 * 1024, 92);
    await Deno.writeFile(`${peers.vsftpd.pub}/f.bin`, file);
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    await using cli = new LiveCli(args(peers, "-R", `ftp/${port}:127.0.0.1:${peers.vsftpd.port}`));
    await cli.waitFor(/FTP tunnel -R ftp\//);
    const out = `${peers.work}/f.bin`;
    const r = await curl(["-o", out, `ftp://localhost:${port}/pub/f.bin`], peers.sshd.netns);
    assert.equal(r.code, 0, `${r.stderr}\n${cli.stderr}`);
    assert.deepEqual(await Deno.readFile(out), file);
    assert.equal(await cli.stop("SIGTERM"), 0, cli.stderr);
  },
});
