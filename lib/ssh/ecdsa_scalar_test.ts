import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  type EcdsaBits,
  ecdsaKey,
  scalarField,
  type ScalarShape,
  storedLength,
} from "../../tests/_harness/ecdsa_keys.ts";
import { ecdsaSignPatched, originalSign, sec1WithFullScalar } from "./ecdsa_scalar.ts";
import { type ParsedKey, utils } from "./ssh2.ts";

const SIZES: Record<EcdsaBits, number> = { 256: 32, 384: 48, 521: 66 };

function parse(text: string): ParsedKey {
  let key = utils.parseKey(text);
  if (Array.isArray(key)) key = key[0];
  if (key instanceof Error) throw key;
  return key;
}

/** The scalar's length in a SEC1 PEM. */
function sec1ScalarLength(pem: string): number {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
  const at = der[1] & 0x80 ? 2 + (der[1] & 0x7f) : 2; // after the SEQUENCE header
  assert.deepEqual([...der.subarray(at, at + 3)], [2, 1, 1], "SEC1 version 1");
  assert.equal(der[at + 3], 0x04, "the scalar's OCTET STRING");
  return der[at + 4];
}

Deno.test("ssh2's parsed keys still share the sign() that ecdsa_scalar.ts wraps", () => {
  // On an ssh2 upgrade: re-read keyParser.js (BaseKey.sign, SYM_PRIV_PEM,
  // genOpenSSLECDSAPriv); if ssh2 now writes the scalar at the curve's size,
  // this module can go.
  assert.equal(ecdsaSignPatched, true);
  const key = parse(ecdsaKey(256, "leading-zero", "shape").private);
  const proto = Object.getPrototypeOf(key);
  assert.equal(typeof originalSign, "function");
  assert.notEqual(proto.sign, originalSign);
  // ssh2 still copies OpenSSH's 33-byte mpint into the SEC1 key.
  assert.equal(sec1ScalarLength(key.getPrivatePEM()), 33);
});

Deno.test("ssh2's own sign() fails under Deno with a 33-byte P-256 scalar (why the module exists)", () => {
  const key = parse(ecdsaKey(256, "leading-zero", "why").private);
  const result = originalSign!.call(key, Buffer.from("data"));
  // If Deno starts to accept the longer scalar, the wrapper is no longer needed.
  assert.ok(result instanceof Error, "Deno's node:crypto accepted an over-long SEC1 scalar");
  assert.match(result.message, /SEC1/);
});

for (const bits of [256, 384, 521] as const) {
  for (const shape of ["leading-zero", "short", "full"] as const satisfies ScalarShape[]) {
    Deno.test(`a P-${bits} key whose stored scalar is ${shape} signs, and the signature verifies`, () => {
      const made = ecdsaKey(bits, shape, `sign-${bits}-${shape}`);
      const stored = scalarField(made.private);
      assert.equal(stored.length, storedLength(bits, shape));
      if (shape === "leading-zero") assert.equal(stored[0], 0);
      const key = parse(made.private);
      const data = Buffer.from(`data for P-${bits} ${shape}`);
      const signature = key.sign(data);
      if (signature instanceof Error) throw signature;
      assert.equal(parse(made.public).verify(data, signature), true);
      // The key object is left as ssh2 made it.
      assert.equal(sec1ScalarLength(key.getPrivatePEM()), stored.length);
    });
  }
}

Deno.test("sec1WithFullScalar() pads or trims the scalar to the curve's size, else leaves it", () => {
  for (const bits of [256, 384, 521] as const) {
    for (const shape of ["leading-zero", "short", "full"] as const) {
      const pem = parse(ecdsaKey(bits, shape, `pem-${bits}-${shape}`).private).getPrivatePEM();
      const fixed = sec1WithFullScalar(pem);
      if (sec1ScalarLength(pem) === SIZES[bits]) {
        assert.equal(fixed, undefined, `P-${bits} ${shape}`);
      } else {
        assert.equal(sec1ScalarLength(fixed!), SIZES[bits], `P-${bits} ${shape}`);
      }
    }
  }
  assert.equal(
    sec1WithFullScalar("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"),
    undefined,
  );
  assert.equal(
    sec1WithFullScalar("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----"),
    undefined,
  );
});

Deno.test("ed25519 and RSA keys sign through the wrapper as before", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const type of ["ed25519", "rsa"]) {
      const out = await new Deno.Command("ssh-keygen", {
        args: [
          "-q",
          "-t",
          type,
          ...(type === "rsa" ? ["-b", "1024"] : []),
          "-N",
          "",
          "-f",
          `${dir}/${type}`,
        ],
      }).output().catch(() => undefined);
      if (!out?.success) {
        return void console.error("ssh-keygen missing: wrapper pass-through unchecked");
      }
      const key = parse(await Deno.readTextFile(`${dir}/${type}`));
      const pub = parse(await Deno.readTextFile(`${dir}/${type}.pub`));
      const data = Buffer.from("pass-through");
      for (const hash of type === "rsa" ? ["sha256", "sha512"] : [undefined]) {
        const signature = key.sign(data, hash);
        if (signature instanceof Error) throw signature;
        assert.equal(pub.verify(data, signature, hash), true);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
