/**
 * `-L ftp/` under load against OpenSSH and vsftpd: many transfers on one
 * control connection, concurrent sessions, and more than two thousand data
 * channels, after which no listener (here) and no remote forward (on the
 * SSH server, checked with `ss -ltn` in its namespace) may remain.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Readable, Writable } from "node:stream";
import { patternBytes } from "./_harness/pattern.ts";
import { type DataMode, MiniFtp } from "./_harness/ftp_client.ts";
import {
  basicFtp,
  curl,
  CURL_MODES,
  ftpLocal,
  ignoreFtpTests,
  startFtpPeers,
  until,
} from "./_harness/ftp_peers.ts";
import { listeningSockets } from "./_harness/vsftpd.ts";

const ignore = ignoreFtpTests("real-peer FTP load tests");

Deno.test({
  name: "basic-ftp makes 50 sequential transfers on one control connection",
  ignore,
  async fn() {
    await using peers = await startFtpPeers();
    await using tunnel = await ftpLocal(peers);
    using client = await basicFtp(tunnel.addresses[0].port);
    for (let i = 0; i < 25; i++) {
      const data = patternBytes(50_000 + i * 997, i + 1);
      await client.uploadFrom(Readable.from([Buffer.from(data)]), `pub/f${i}.bin`);
      const chunks: Buffer[] = [];
      const sink = new Writable({
        write(chunk, _enc, done) {
          chunks.push(chunk);
          done();
        },
      });
      await client.downloadTo(sink, `pub/f${i}.bin`);
      assert.deepEqual(new Uint8Array(Buffer.concat(chunks)), data, `file ${i}`);
      assert.deepEqual(await Deno.readFile(`${peers.vsftpd.pub}/f${i}.bin`), data);
    }
    client.close();
    await until(() => tunnel.dataStats.sessions === 0, "the sessions to end");
    assert.equal(tunnel.dataStats.total, 50);
  },
});

Deno.test({
  name: "10 concurrent curl sessions in all four modes get their own files",
  ignore,
  async fn() {
    await using peers = await startFtpPeers();
    await using tunnel = await ftpLocal(peers);
    const base = `ftp://127.0.0.1:${tunnel.addresses[0].port}/pub`;
    const files = Array.from({ length: 10 }, (_, i) => patternBytes(700_000 + i * 1013, 40 + i));
    for (const [i, f] of files.entries()) await Deno.writeFile(`${peers.vsftpd.pub}/c${i}.bin`, f);
    const results = await Promise.all(
      files.map((_, i) =>
        curl([...CURL_MODES[i % 4][1], "-o", `${peers.work}/c${i}.bin`, `${base}/c${i}.bin`])
      ),
    );
    for (const [i, r] of results.entries()) {
      assert.equal(r.code, 0, `session ${i}: ${r.stderr}`);
      assert.deepEqual(await Deno.readFile(`${peers.work}/c${i}.bin`), files[i], `file ${i}`);
    }
    await until(() => tunnel.dataStats.sessions === 0, "the sessions to end");
    assert.equal(tunnel.dataStats.total, 10);
  },
});

Deno.test({
  name: "2000 passive and 200 active transfers leave no listener or forward behind",
  ignore,
  async fn() {
    await using peers = await startFtpPeers();
    await using tunnel = await ftpLocal(peers);
    const before = (await listeningSockets(peers.sshd.netns)).sort();
    const file = patternBytes(4096, 77);
    await Deno.writeFile(`${peers.vsftpd.pub}/small.bin`, file);
    const port = tunnel.addresses[0].port;
    const worker = async (w: number) => {
      await using ftp = (await MiniFtp.connect("127.0.0.1", port))[0];
      await ftp.login();
      for (let i = 0; i < 550; i++) {
        const mode: DataMode = i % 11 === 10
          ? (i % 2 ? "port" : "eprt")
          : (i % 2 ? "pasv" : "epsv");
        const got = await ftp.transfer(mode, "RETR pub/small.bin");
        assert.deepEqual(got, file, `worker ${w} transfer ${i} (${mode})`);
      }
    };
    await Promise.all([0, 1, 2, 3].map(worker));
    await until(() => tunnel.dataStats.sessions === 0, "the sessions to end");
    const s = tunnel.dataStats;
    assert.deepEqual([s.listeners, s.forwards, s.transfers, s.total], [0, 0, 0, 2200]);
    // The SSH server listens on nothing more than before: no remote forward left.
    assert.deepEqual((await listeningSockets(peers.sshd.netns)).sort(), before);
    assert.deepEqual(
      before,
      [`${peers.sshd.host}:${peers.sshd.port}`, `127.0.0.1:${peers.vsftpd.port}`].sort(),
    );
  },
});
