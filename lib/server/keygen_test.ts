import assert from "node:assert/strict";
import { generateEd25519 } from "./keygen.ts";

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

Deno.test("generateEd25519() makes keys OpenSSH reads back", async () => {
  const pair = generateEd25519("roundtrip");
  assert.equal(pair.parsed.getPublicSSH().length, 51);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/k`, pair.private, { mode: 0o600 });
    const out = await new Deno.Command("ssh-keygen", { args: ["-y", "-f", `${dir}/k`] }).output();
    if (out.code === 0) {
      assert.equal(new TextDecoder().decode(out.stdout).trim(), pair.public);
    } else assert.fail(new TextDecoder().decode(out.stderr));
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    console.error("ssh-keygen not found: checked with ssh2 only");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
