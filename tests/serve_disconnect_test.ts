/**
 * Nothing lost when a client leaves at once: a client that sends its last
 * bytes, EOF and CHANNEL_CLOSE on a direct-tcpip channel and then drops the
 * SSH connection straight away (as paramiko and asyncssh scripts do when they
 * exit) must still have every byte written to the destination. warren serve
 * holds what the destination has not read yet; the connection's end must not
 * cut that short.
 *
 * The client is npm:ssh2 in this process; warren serve and the destination
 * (the half-close exchange origin, reading its last 4 MiB slowly, small TCP
 * buffers) run in a namespace of their own.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { Client } from "../lib/ssh/ssh2.ts";
import { smallBuffers, startExchangeOrigin } from "./_harness/halfclose.ts";
import { patternBytes } from "./_harness/pattern.ts";
import { serveTestsSkipReason, startServe } from "./_harness/serve.ts";
import { skipWhen } from "./_harness/skip.ts";

const ignore = skipWhen("warren serve tests", serveTestsSkipReason());
const BYTES = 16 * 1024 * 1024;

/** Connect to serve, checking its host key against the fingerprint it printed. */
function connect(
  o: { host: string; port: number; key: string; fingerprint: string },
): Promise<InstanceType<typeof Client>> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    client.once("ready", () => resolve(client)).once("error", reject);
    client.connect({
      host: o.host,
      port: o.port,
      username: "tester",
      privateKey: o.key,
      hostVerifier: (key: Buffer) =>
        `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}` ===
          o.fingerprint,
    });
  });
}

Deno.test({
  name: "serve: a client that disconnects right after CHANNEL_CLOSE still has every byte delivered",
  ignore,
}, async () => {
  await using served = await startServe();
  await smallBuffers(served.netns);
  await using far = await startExchangeOrigin({ netns: served.netns, bytes: BYTES });
  const client = await connect({
    host: served.host,
    port: served.port,
    key: await Deno.readTextFile(served.clientKey),
    fingerprint: served.fingerprint,
  });
  try {
    const channel = await new Promise<import("../lib/ssh/ssh2.ts").ClientChannel>(
      (resolve, reject) =>
        client.forwardOut("127.0.0.1", 0, "127.0.0.1", far.ports.sendFirst, (err, ch) => {
          if (err) reject(err);
          else resolve(ch);
        }),
    );
    // The far side sends first: read all of it, then send ours.
    let received = 0;
    await new Promise<void>((resolve, reject) => {
      channel.on("data", (chunk: Buffer) => received += chunk.length);
      channel.once("end", resolve).once("error", reject);
    });
    assert.equal(received, BYTES, "the far side's bytes");
    const data = patternBytes(BYTES, 7);
    // 'finish': every byte and our EOF handed to the SSH connection.
    await new Promise<void>((resolve, reject) => {
      channel.once("finish", resolve).once("error", reject);
      channel.end(data);
    });
    channel.close();
    client.end();
    const report = await far.next("sendFirst");
    assert.equal(report.error, undefined, `the far side: ${report.error}`);
    assert.equal(report.received, BYTES, `${report.received} of ${BYTES} bytes arrived`);
    assert.equal(report.receivedSha, createHash("sha256").update(data).digest("hex"));
  } finally {
    client.end();
  }
});
