/**
 * A hostile FTP server's 227 (issue 19, part 2): it names another address
 * for the passive data connection, where a canary listens. Through `-L ftp/`
 * the SSH server would connect there (a service on its network); through
 * `-R ftp/` warren would (one on this host). By default the data connection
 * goes to the control connection's destination instead, with a warning, and
 * the transfer works; `--ftp-trust-pasv-address` follows the 227.
 *
 * The warren CLI as a user runs it, OpenSSH sshd in a namespace, curl as the
 * FTP client (PASV only: --disable-epsv), and a scripted FTP server
 * (tests/_harness/fake_ftp.ts). Needs root, openssh-server and curl;
 * otherwise ignored with one line on stderr.
 */
import assert from "node:assert/strict";
import { LiveCli } from "./_harness/cli.ts";
import { startCanary } from "./_harness/canary.ts";
import { startFakeFtp } from "./_harness/fake_ftp.ts";
import { freePort, randomPort } from "./_harness/free_port.ts";
import { patternBytes } from "./_harness/pattern.ts";
import { curl, realPeersUnsupported, startRealPeers, warrenArgs } from "./_harness/real_peers.ts";
import { skipWhen } from "./_harness/skip.ts";

const ignore = skipWhen("hostile FTP server tests", realPeersUnsupported("curl"));

const FILE = patternBytes(256 * 1024 + 7, 19);
const pasvNumbers = (host: string) => host.replaceAll(".", ",");

Deno.test({
  name: "-L ftp/: a 227 naming another address goes to dst-host; the canary there stays untouched",
  ignore,
  async fn(t) {
    await using peers = await startRealPeers();
    const { netns } = peers;
    // The FTP server, on this host as sshd sees it; its 227 names 127.0.0.2 on
    // the SSH server's side, at the port of its own passive listener.
    const port = freePort(netns.hostAddr);
    await using canary = await startCanary("127.0.0.2", port, netns);
    await using ftp = startFakeFtp({
      hostname: netns.hostAddr,
      pasvHost: pasvNumbers("127.0.0.2"),
      pasvPort: port,
      files: { "f.bin": FILE },
    });
    const spec = `ftp/${freePort()}:${netns.hostAddr}:${ftp.port}`;
    const url = `ftp://127.0.0.1:${spec.split(/[/:]/)[1]}/f.bin`;

    await t.step("by default: the transfer works, the canary is untouched, a warning", async () => {
      await using cli = new LiveCli(warrenArgs(peers.sshd, "-L", spec));
      await cli.waitFor(/FTP tunnel -L ftp\//);
      const out = `${peers.work}/f.bin`;
      const r = await curl(["--disable-epsv", "-o", out, url]);
      assert.equal(r.code, 0, `${r.stderr}\n${cli.stderr}`);
      assert.deepEqual(await Deno.readFile(out), FILE);
      assert.equal(canary.touched(), 0);
      assert.match(
        cli.stderr,
        new RegExp(
          `warning: .*227 names 127\\.0\\.0\\.2, not ${netns.hostAddr.replaceAll(".", "\\.")}`,
        ),
      );
      assert.equal(await cli.stop("SIGTERM"), 0, cli.stderr);
    });

    await t.step(
      "--ftp-trust-pasv-address: the data connection goes where the 227 says",
      async () => {
        await using cli = new LiveCli(
          warrenArgs(peers.sshd, "--ftp-trust-pasv-address", "-L", spec),
        );
        await cli.waitFor(/FTP tunnel -L ftp\//);
        const r = await curl(["--disable-epsv", "--max-time", "20", "-o", "/dev/null", url]);
        assert.notEqual(r.code, 0, "the canary sends no file");
        assert.equal(canary.touched(), 1, cli.stderr);
        assert.equal(await cli.stop("SIGTERM"), 0, cli.stderr);
      },
    );
  },
});

Deno.test({
  name:
    "-R ftp/: a 227 naming another address goes to the FTP server; the canary here stays untouched",
  ignore,
  async fn() {
    await using peers = await startRealPeers();
    const port = freePort("127.0.0.1");
    await using canary = await startCanary("127.0.0.2", port);
    await using ftp = startFakeFtp({
      pasvHost: pasvNumbers("127.0.0.2"),
      pasvPort: port,
      files: { "f.bin": FILE },
    });
    const remote = randomPort();
    await using cli = new LiveCli(
      warrenArgs(peers.sshd, "-R", `ftp/${remote}:127.0.0.1:${ftp.port}`),
    );
    await cli.waitFor(/FTP tunnel -R ftp\//);
    const out = `${peers.work}/f.bin`;
    const r = await curl(
      ["--disable-epsv", "-o", out, `ftp://127.0.0.1:${remote}/f.bin`],
      peers.netns,
    );
    assert.equal(r.code, 0, `${r.stderr}\n${cli.stderr}`);
    assert.deepEqual(await Deno.readFile(out), FILE);
    assert.equal(canary.touched(), 0);
    assert.match(cli.stderr, /warning: .*227 names 127\.0\.0\.2, not 127\.0\.0\.1/);
    assert.equal(await cli.stop("SIGTERM"), 0, cli.stderr);
  },
});
