/**
 * The two ssh2 fixes of ssh2_internals.ts that concern key algorithms, seen
 * from the wire by an in-process ssh2 client of WarrenServer: the EXT_INFO
 * server-sig-algs list, and the algorithm USERAUTH_PK_OK echoes. The Python
 * clients of tests/serve_keys_test.ts check the same against real peers.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { generateKeyPairSync } from "node:crypto";
import { setLogWriter, setupLogging } from "../log.ts";
import { Client, type ParsedKey, utils } from "../ssh/ssh2.ts";
import { loadHostKey } from "./host_key.ts";
import { WarrenServer } from "./server.ts";
import { SERVER_SIG_ALGS } from "./ssh2_internals.ts";

interface Seen {
  serverSigAlgs?: string[];
  pkOk: string[];
  accepted: string[];
  error?: Error;
}

Deno.test("warren serve advertises rsa-sha2-512 and echoes the requested RSA algorithm in PK_OK", async () => {
  const dir = await Deno.makeTempDir({ prefix: "warren-ssh2-internals-" });
  const log: string[] = [];
  setupLogging("info");
  setLogWriter((line) => log.push(line));
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey
    .export({ type: "pkcs1", format: "pem" }) as string;
  const parsed = utils.parseKey(rsa) as ParsedKey;
  const blob = parsed.getPublicSSH();
  await Deno.writeTextFile(`${dir}/authorized_keys`, `ssh-rsa ${blob.toString("base64")}\n`);
  const server = await WarrenServer.start({
    hostname: "127.0.0.1",
    port: 0,
    hostKey: await loadHostKey(`${dir}/host_key`, true),
    authorizedKeysFile: `${dir}/authorized_keys`,
    gatewayPorts: false,
  });
  try {
    const seen: Seen = { pkOk: [], accepted: [] };
    const client = new Client();
    await new Promise<void>((resolve) => {
      client.once("handshake", () => {
        // Watch what ssh2's client parses; its own handlers still run.
        // deno-lint-ignore no-explicit-any
        const handlers = (client as any)._protocol._handlers;
        const extInfo = handlers.EXT_INFO;
        handlers.EXT_INFO = (p: unknown, exts: { name: string; algs: string[] }[]) => {
          seen.serverSigAlgs = exts.find((e) => e.name === "server-sig-algs")?.algs;
          extInfo(p, exts);
        };
        const pkOk = handlers.USERAUTH_PK_OK;
        handlers.USERAUTH_PK_OK = (p: unknown, algo: string, key: Buffer) => {
          seen.pkOk.push(algo);
          pkOk(p, algo, key);
        };
      });
      client.once("ready", () => resolve());
      client.once("error", (err) => (seen.error = err, resolve()));
      client.once("close", () => resolve());
      client.connect({
        host: "127.0.0.1",
        port: server.address.port,
        username: "u",
        privateKey: rsa,
      });
    });
    client.end();
    assert.equal(seen.error, undefined);
    // ssh2's own list ran "ecdsa-sha2-nistp521rsa-sha2-512" together.
    assert.deepEqual(seen.serverSigAlgs, [...SERVER_SIG_ALGS]);
    assert.ok(seen.serverSigAlgs?.includes("rsa-sha2-512"));
    // ssh2's client asks with rsa-sha2-256 when the server lists it; ssh2's server said "ssh-rsa".
    assert.deepEqual(seen.pkOk, ["rsa-sha2-256"]);
    assert.ok(log.some((l) => /accepted publickey rsa-sha2-256 SHA256:/.test(l)), log.join(""));
  } finally {
    await server.close();
    setLogWriter((line) => void Deno.stderr.writeSync(new TextEncoder().encode(line)));
    await Deno.remove(dir, { recursive: true });
  }
});
