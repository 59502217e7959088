/**
 * `warren serve` with every key algorithm, against clients other than
 * OpenSSH (issue 13): asyncssh and paramiko (Debian's python3-asyncssh and
 * python3-paramiko, run by /usr/bin/python3) log in with RSA keys limited to
 * rsa-sha2-256 or to rsa-sha2-512, ed25519, and ECDSA P-256/P-384/P-521
 * keys whose private scalar has a leading zero byte, then carry bytes
 * through a direct-tcpip channel. And OpenSSH's ssh reaches a serve whose
 * host key is such an ECDSA key. asyncssh signing with ssh-rsa (SHA-1) is
 * refused, as OpenSSH's sshd refuses it.
 *
 * The ECDSA keys are made with chosen scalars (tests/_harness/ecdsa_keys.ts)
 * and each test checks what the key file really holds. Needs root,
 * iproute2 and the OpenSSH client; the Python clients when present.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { fingerprintSha256 } from "../lib/config/ssh_key_blob.ts";
import {
  type EcdsaBits,
  ecdsaKey,
  scalarField,
  type ScalarShape,
  storedLength,
} from "./_harness/ecdsa_keys.ts";
import { freePort } from "./_harness/free_port.ts";
import { LiveProc, runProc } from "./_harness/live_proc.ts";
import { roundTrip, testBytes } from "./_harness/local_servers.ts";
import { startOrigin } from "./_harness/origin.ts";
import { run } from "./_harness/procs.ts";
import { serveTestsSkipReason, sshArgs, startServe, waitListening } from "./_harness/serve.ts";
import { skipWhen } from "./_harness/skip.ts";

const PYTHON = "/usr/bin/python3";
const CLIENTS = new URL("./_harness/py_ssh_clients.py", import.meta.url).pathname;

/** Which of the Python SSH libraries are missing (without importing them). */
function missingPythonLibs(): string[] {
  try {
    const out = new Deno.Command(PYTHON, {
      args: [
        "-c",
        "import importlib.util as u\nfor m in ('asyncssh', 'paramiko'):\n" +
        "    print(m) if u.find_spec(m) is None else None",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l !== "");
  } catch {
    return ["asyncssh", "paramiko"];
  }
}

const serveSkip = serveTestsSkipReason();
const missing = serveSkip ? [] : missingPythonLibs();
const pySkip = (lib: string) =>
  serveSkip ?? (missing.includes(lib) ? `${PYTHON} has no ${lib} (python3-${lib})` : undefined);

interface UserKey {
  name: string;
  path: string;
  /** The public key line. */
  public: string;
  /** For RSA: the one signature algorithm the client may use. */
  sigAlgs?: string[];
  /** The algorithm serve must log for it. */
  algorithm: string;
}

const ECDSA_CASES: [EcdsaBits, ScalarShape][] = [
  [256, "leading-zero"],
  [384, "leading-zero"],
  [521, "leading-zero"],
  [256, "short"],
];

/** Write an ECDSA key of this shape, after checking the file holds that case. */
async function writeEcdsa(
  dir: string,
  bits: EcdsaBits,
  shape: ScalarShape,
): Promise<{ path: string; public: string }> {
  const key = ecdsaKey(bits, shape, `warren-test-p${bits}-${shape}`);
  const stored = scalarField(key.private);
  assert.equal(stored.length, storedLength(bits, shape), `P-${bits} ${shape}: stored length`);
  if (shape === "leading-zero") assert.equal(stored[0], 0, `P-${bits}: leading zero byte`);
  const path = `${dir}/p${bits}_${shape}`;
  await Deno.writeTextFile(path, key.private, { mode: 0o600 });
  await Deno.writeTextFile(`${path}.pub`, `${key.public}\n`);
  return { path, public: key.public };
}

async function userKeys(dir: string): Promise<UserKey[]> {
  const keys: UserKey[] = [];
  for (const [type, bits] of [["rsa", "2048"], ["ed25519", ""]]) {
    const path = `${dir}/${type}`;
    const size = bits ? ["-b", bits] : [];
    await run("ssh-keygen", ["-q", "-t", type, ...size, "-N", "", "-C", type, "-f", path]);
    const pub = (await Deno.readTextFile(`${path}.pub`)).trim();
    if (type === "rsa") {
      for (const alg of ["rsa-sha2-256", "rsa-sha2-512"]) {
        keys.push({ name: alg, path, public: pub, sigAlgs: [alg], algorithm: alg });
      }
    } else keys.push({ name: type, path, public: pub, algorithm: "ssh-ed25519" });
  }
  for (const [bits, shape] of ECDSA_CASES) {
    const { path, public: pub } = await writeEcdsa(dir, bits, shape);
    keys.push({
      name: `P-${bits} ${shape}`,
      path,
      public: pub,
      algorithm: `ecdsa-sha2-nistp${bits}`,
    });
  }
  return keys;
}

function fingerprintOf(line: string): string {
  return fingerprintSha256(Buffer.from(line.split(" ")[1], "base64"));
}

for (const lib of ["asyncssh", "paramiko"]) {
  Deno.test({
    name: `serve: ${lib} logs in with RSA (rsa-sha2-256, rsa-sha2-512), ed25519 and ECDSA keys`,
    ignore: skipWhen(`warren serve with ${lib}`, pySkip(lib)),
  }, async () => {
    await using served = await startServe();
    await using origin = await startOrigin({ netns: served.netns });
    const dir = `${served.dir}/keys`;
    await Deno.mkdir(dir);
    const keys = await userKeys(dir);
    const lines = [...new Set(keys.map((k) => k.public))];
    await Deno.writeTextFile(served.authorizedKeys, lines.join("\n") + "\n", { append: true });

    const spec = {
      lib,
      host: served.host,
      port: served.port,
      user: "tester",
      known_hosts: served.knownHosts,
      target: ["127.0.0.1", origin.echoPort],
      bytes: 256 * 1024,
      keys: keys.map((k) => ({ name: k.name, path: k.path, sig_algs: k.sigAlgs ?? null })),
    };
    const r = await runProc(PYTHON, [CLIENTS, JSON.stringify(spec)], {
      env: { HOME: served.dir },
      timeoutMs: 120_000,
    });
    assert.equal(r.code, 0, r.stderr);
    const results = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    const failed = results.filter((x) => !x.ok).map((x) => `${x.name}: ${x.error}`);
    assert.deepEqual(failed, [], `${lib} failed with:\n${failed.join("\n")}\n${served.log()}`);
    assert.deepEqual(results.map((x) => x.name), keys.map((k) => k.name));
    // serve names the algorithm each client signed with.
    for (const k of keys) {
      const accepted = `accepted publickey ${k.algorithm} ${fingerprintOf(k.public)}`;
      await served.cli.waitFor(new RegExp(accepted.replace(/[+/.]/g, "\\$&")), 5_000);
    }
  });
}

for (const bits of [256, 384] as const) {
  Deno.test({
    name: `serve: a P-${bits} host key whose scalar has a leading zero byte; OpenSSH ssh connects`,
    ignore: skipWhen("warren serve with an ECDSA host key", serveSkip),
  }, async () => {
    const dir = await Deno.makeTempDir({ prefix: "warren-hostkey-" });
    try {
      const { path } = await writeEcdsa(dir, bits, "leading-zero");
      await using served = await startServe({ hostKey: path });
      await served.cli.waitFor(new RegExp(`Host key ecdsa-sha2-nistp${bits} SHA256:`));
      await using origin = await startOrigin({ netns: served.netns });
      const echo = freePort();
      await using ssh = LiveProc.spawn("ssh", [
        "-N",
        "-v",
        ...["-o", "ExitOnForwardFailure=yes"],
        ...["-L", `${echo}:127.0.0.1:${origin.echoPort}`],
        ...sshArgs(served),
      ]);
      // Fails at once, with ssh's own words, if the handshake does. ssh
      // prints this line just before it binds: then dial until it listens.
      await ssh.waitFor(/Local forwarding listening on 127\.0\.0\.1 port \d+/);
      await waitListening(echo);
      const data = testBytes(512 * 1024, bits);
      const back = await roundTrip(echo, data).catch((err) => {
        throw new Error(`port ${echo}: ${err}\nssh:\n${ssh.output}\nserve:\n${served.log()}`);
      });
      assert.deepEqual(back, data);
      assert.equal(ssh.running, true, ssh.output);
      assert.doesNotMatch(served.log(), /SEC1|handshake failed/i);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test({
  name: "serve: asyncssh signing with ssh-rsa (SHA-1) is refused, and serve says why",
  ignore: skipWhen("warren serve with asyncssh", pySkip("asyncssh")),
}, async () => {
  await using served = await startServe();
  await using origin = await startOrigin({ netns: served.netns });
  const path = `${served.dir}/rsa`;
  await run("ssh-keygen", ["-q", "-t", "rsa", "-b", "2048", "-N", "", "-C", "rsa", "-f", path]);
  const pub = (await Deno.readTextFile(`${path}.pub`)).trim();
  await Deno.writeTextFile(served.authorizedKeys, `${pub}\n`, { append: true });
  const spec = {
    lib: "asyncssh",
    host: served.host,
    port: served.port,
    user: "tester",
    known_hosts: served.knownHosts,
    target: ["127.0.0.1", origin.echoPort],
    bytes: 1024,
    keys: [{ name: "ssh-rsa", path, sig_algs: ["ssh-rsa"] }],
  };
  const r = await runProc(PYTHON, [CLIENTS, JSON.stringify(spec)], {
    env: { HOME: served.dir },
    timeoutMs: 60_000,
  });
  assert.equal(r.code, 0, r.stderr);
  const [result] = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(result.ok, false, "asyncssh logged in with an ssh-rsa signature");
  assert.match(result.error, /Permission denied/);
  const refused = `refused publickey ssh-rsa ${
    fingerprintOf(pub)
  } for tester: ssh-rsa signs with SHA-1`;
  await served.cli.waitFor(new RegExp(refused.replace(/[+/.]/g, "\\$&")), 5_000);
});
