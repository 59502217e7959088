import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { utils } from "../ssh/ssh2.ts";
import { ed25519KeyPair, generateEd25519, type KeyPair } from "./keygen.ts";

/** `ssh-keygen -y` of the private key, or undefined without ssh-keygen. */
async function opensshPublic(pair: KeyPair): Promise<string | undefined> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/k`, pair.private, { mode: 0o600 });
    const out = await new Deno.Command("ssh-keygen", { args: ["-y", "-f", `${dir}/k`] }).output();
    if (out.code !== 0) assert.fail(new TextDecoder().decode(out.stderr));
    return new TextDecoder().decode(out.stdout).trim();
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    console.error("ssh-keygen not found: checked with ssh2 only");
    return undefined;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The private key signs, and the public key verifies what it signed. */
function assertSigns(pair: KeyPair): void {
  let key = utils.parseKey(pair.private);
  if (Array.isArray(key)) key = key[0];
  if (key instanceof Error) throw key;
  const data = Buffer.from("warren keygen test");
  const signature = key.sign(data);
  if (signature instanceof Error) throw signature;
  assert.equal(pair.parsed.verify(data, signature), true);
}

Deno.test("generateEd25519() makes 32-byte keys, distinct each time", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 64; i++) {
    const pair = generateEd25519();
    assert.equal(pair.parsed.getPublicSSH().length, 51);
    assert.match(pair.private, /^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    seen.add(pair.public);
  }
  assert.equal(seen.size, 64);
});

Deno.test("generateEd25519() makes keys OpenSSH reads back and that sign", async () => {
  const pair = generateEd25519("roundtrip");
  assert.match(pair.public, / roundtrip$/);
  const openssh = await opensshPublic(pair);
  if (openssh !== undefined) assert.equal(openssh, pair.public);
  assertSigns(pair);
});

Deno.test("ed25519KeyPair() keeps the leading zero byte of a public key", async () => {
  // sha256("warren-ed25519-482"): its public key starts with a zero byte,
  // which ssh2's own generator dropped (a 31-byte key).
  const seed = Buffer.from(
    "7d58499af23fc810b220a8fcf58e77acd370b1d95d48732bf306ce67caa979dd",
    "hex",
  );
  const pair = ed25519KeyPair(seed);
  const blob = pair.parsed.getPublicSSH();
  assert.equal(blob.length, 51);
  assert.equal(blob[19], 0, "the test key's public key must start with a zero byte");
  assert.equal(
    pair.public,
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIABMnx2f4Ut27feqwr0j56KShq/gwOZDOLshWgDEy9de",
  );
  const openssh = await opensshPublic(pair);
  if (openssh !== undefined) assert.equal(openssh, pair.public);
  assertSigns(pair);
});
