import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { utils } from "../ssh/ssh2.ts";
import { generateKeyPairSync } from "../ssh/ssh2_server.ts";
import { parseAuthorizedKeys } from "./authorized_keys.ts";
import { checkKey, SHA1_REFUSED } from "./auth.ts";
import { generateEd25519, type KeyPair } from "./keygen.ts";

const alice = generateEd25519("alice");
const bob = generateEd25519("bob");
const DATA = Buffer.from("session id and userauth request");

function signed(pair: KeyPair, data = DATA) {
  const priv = utils.parseKey(pair.private);
  const key = Array.isArray(priv) ? priv[0] : priv;
  if (key instanceof Error) throw key;
  return {
    blob: new Uint8Array(pair.parsed.getPublicSSH()),
    signature: new Uint8Array(key.sign(data)),
    signed: new Uint8Array(data),
  };
}

const keysOf = (text: string) => parseAuthorizedKeys(text, "ak").keys;

Deno.test("checkKey() accepts a listed key with a good signature, and answers probes", () => {
  const keys = keysOf(`${alice.public}\n`);
  const probe = checkKey(keys, { blob: new Uint8Array(alice.parsed.getPublicSSH()) }, "10.0.0.1");
  assert.equal(probe.ok, true);
  const r = checkKey(keys, signed(alice), "10.0.0.1");
  assert.ok(r.ok);
  assert.equal(r.key.line, 1);
});

Deno.test("checkKey() refuses an unlisted key, a bad signature and a signature by another key", () => {
  const keys = keysOf(`${alice.public}\n`);
  assert.deepEqual(checkKey(keys, signed(bob), "10.0.0.1"), {
    ok: false,
    why: "the key is not in the authorized keys",
  });
  const tampered = { ...signed(alice), signed: new Uint8Array(Buffer.from("something else")) };
  assert.match((checkKey(keys, tampered, "10.0.0.1") as { why: string }).why, /bad signature/);
  const forged = { ...signed(bob), blob: new Uint8Array(alice.parsed.getPublicSSH()) };
  assert.match((checkKey(keys, forged, "10.0.0.1") as { why: string }).why, /bad signature/);
  const garbage = { ...signed(alice), signature: new Uint8Array([1, 2, 3]) };
  assert.equal(checkKey(keys, garbage, "10.0.0.1").ok, false);
});

Deno.test("checkKey() applies from= and says why, probe or not", () => {
  const keys = keysOf(`from="10.0.0.0/8" ${alice.public}\n`);
  assert.ok(checkKey(keys, signed(alice), "10.1.2.3").ok);
  const r = checkKey(keys, signed(alice), "::ffff:192.0.2.1");
  assert.deepEqual(r, { ok: false, why: 'from="10.0.0.0/8" does not admit 192.0.2.1 (ak:1)' });
  const probe = checkKey(keys, { blob: new Uint8Array(alice.parsed.getPublicSSH()) }, "192.0.2.1");
  assert.equal(probe.ok, false);
});

Deno.test("checkKey(): with several lines for one key, the first that admits the client wins", () => {
  const keys = keysOf(
    `from="10.0.0.0/8",restrict ${alice.public}\nfrom="192.0.2.0/24",permitopen="db:5432" ${alice.public}\n`,
  );
  const inside = checkKey(keys, signed(alice), "10.0.0.9");
  assert.ok(inside.ok && inside.key.line === 1 && !inside.key.options.portForwarding);
  const outside = checkKey(keys, signed(alice), "192.0.2.9");
  assert.ok(outside.ok && outside.key.line === 2);
  assert.deepEqual(outside.key.options.permitOpen, [{ host: "db", port: 5432 }]);
});

Deno.test("checkKey() refuses a key after its expiry-time", () => {
  const keys = keysOf(`expiry-time="20300101Z" ${alice.public}\n`);
  assert.ok(checkKey(keys, signed(alice), "10.0.0.1", new Date("2029-12-31T23:59:59Z")).ok);
  const late = checkKey(keys, signed(alice), "10.0.0.1", new Date("2030-01-01T00:00:00Z"));
  assert.deepEqual(late, { ok: false, why: "the key expired at 2030-01-01T00:00:00.000Z (ak:1)" });
});

Deno.test("checkKey() refuses RSA signatures and probes with SHA-1 (ssh-rsa), takes rsa-sha2-*", () => {
  const pair = generateKeyPairSync("rsa", { bits: 2048 });
  const priv = utils.parseKey(pair.private);
  const key = Array.isArray(priv) ? priv[0] : priv;
  if (key instanceof Error) throw key;
  const keys = keysOf(`${pair.public}\n`);
  const blob = new Uint8Array(key.getPublicSSH());
  const sign = (hash?: string) => ({
    blob,
    signature: new Uint8Array(key.sign(DATA, hash)),
    signed: new Uint8Array(DATA),
    hashAlgo: hash,
  });
  assert.deepEqual(checkKey(keys, sign(), "10.0.0.1"), { ok: false, why: SHA1_REFUSED });
  assert.deepEqual(checkKey(keys, { blob }, "10.0.0.1"), { ok: false, why: SHA1_REFUSED });
  for (const hash of ["sha256", "sha512"]) {
    assert.equal(checkKey(keys, sign(hash), "10.0.0.1").ok, true, hash);
    assert.equal(checkKey(keys, { blob, hashAlgo: hash }, "10.0.0.1").ok, true, `${hash} probe`);
  }
});
