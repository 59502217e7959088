/**
 * OpenSSH ECDSA key files with a chosen private scalar, so a test can make
 * exactly the keys that matter: a P-256 or P-384 scalar with its top bit set
 * is stored by OpenSSH with a leading zero byte (the mpint is one byte
 * longer than the curve's size), which ssh2 under Deno could not sign with;
 * a scalar whose top byte is zero is stored one byte shorter. The public
 * point comes from node:crypto, the file is written as ssh-keygen writes it
 * (lib/ssh/openssh_key.ts), and `scalarField()` reads back what the file
 * holds, so a test can check that it has the case it claims.
 */
import { Buffer } from "node:buffer";
import { createHash, createPrivateKey, createPublicKey } from "node:crypto";
import { concat } from "../../lib/net/io.ts";
import {
  encodeOpenSshPrivateKey,
  publicKeyLine,
  sshMpint,
  sshString,
} from "../../lib/ssh/openssh_key.ts";

export type EcdsaBits = 256 | 384 | 521;

const CURVES: Record<EcdsaBits, { name: string; size: number; oid: string }> = {
  256: { name: "nistp256", size: 32, oid: "06082a8648ce3d030107" },
  384: { name: "nistp384", size: 48, oid: "06052b81040022" },
  521: { name: "nistp521", size: 66, oid: "06052b81040023" },
};

/** How OpenSSH stores the scalar (an SSH mpint). */
export type ScalarShape =
  /**
   * With a leading zero byte: the top bit of a P-256/P-384 scalar is set
   * (stored one byte longer than the curve's size), or a P-521 scalar's top
   * byte is zero and the next has its top bit set (stored at the size).
   */
  | "leading-zero"
  /** One byte shorter than the curve's size (the scalar's top byte is zero). */
  | "short"
  /** Exactly the curve's size, no leading zero. */
  | "full";

export interface EcdsaKey {
  type: string;
  /** OpenSSH private key text, unencrypted. */
  private: string;
  /** "ecdsa-sha2-nistpNNN AAAA... comment". */
  public: string;
}

function der(tag: number, body: Uint8Array): Uint8Array {
  const n = body.length;
  const length = n < 0x80 ? [n] : [0x81, n];
  return concat([new Uint8Array([tag, ...length]), body]);
}

/** A deterministic scalar (from `label`) of the given shape, below the curve's order. */
export function scalarFor(bits: EcdsaBits, shape: ScalarShape, label: string): Uint8Array {
  const { size } = CURVES[bits];
  const hash = (n: number) => createHash("sha512").update(`${label}/${n}`).digest();
  const d = concat([hash(0), hash(1)]).slice(0, size);
  const low = (b: number) => 0x01 | (b & 0x7f); // 0x01..0x7f
  const high = (b: number) => 0x80 | (b & 0x7e); // 0x80..0xfe
  if (shape === "short") {
    d[0] = 0;
    d[1] = low(d[1]);
  } else if (bits === 521) {
    // n = 0x01ff...: a top byte of 1 and a second byte below 0xff keep d < n.
    d[0] = shape === "full" ? 1 : 0;
    d[1] = shape === "full" ? d[1] & 0xfe : high(d[1]);
  } else {
    // n's top byte is 0xff for P-256 and P-384.
    d[0] = shape === "full" ? low(d[0]) : high(d[0]);
  }
  return d;
}

/** The length OpenSSH stores a scalar of this shape with. */
export function storedLength(bits: EcdsaBits, shape: ScalarShape): number {
  const { size } = CURVES[bits];
  if (shape === "short") return size - 1;
  return shape === "leading-zero" && bits !== 521 ? size + 1 : size;
}

/**
 * The OpenSSH key pair of scalar `d` on the curve. With `pointOf`, the
 * public point is that scalar's instead: a broken key file whose private
 * half does not match (or is not a valid scalar at all), for tests of keys
 * that cannot sign.
 */
export function ecdsaKeyPair(
  bits: EcdsaBits,
  d: Uint8Array,
  comment = "",
  pointOf: Uint8Array = d,
): EcdsaKey {
  const curve = CURVES[bits];
  if (d.length !== curve.size) throw new RangeError(`a P-${bits} scalar is ${curve.size} bytes`);
  // SEC1 without the public key: node:crypto computes it.
  const sec1 = der(
    0x30,
    concat([
      new Uint8Array([2, 1, 1]),
      der(0x04, pointOf),
      der(0xa0, new Uint8Array(Buffer.from(curve.oid, "hex"))),
    ]),
  );
  const key = createPrivateKey({ key: Buffer.from(sec1), format: "der", type: "sec1" });
  const jwk = createPublicKey(key).export({ format: "jwk" });
  const coord = (v: string | undefined) => {
    const b = Buffer.from(v ?? "", "base64url");
    const out = new Uint8Array(curve.size);
    out.set(b, curve.size - b.length);
    return out;
  };
  const q = concat([new Uint8Array([4]), coord(jwk.x), coord(jwk.y)]);
  const type = `ecdsa-sha2-${curve.name}`;
  const head = [sshString(type), sshString(curve.name), sshString(q)];
  const blob = concat(head);
  return {
    type,
    private: encodeOpenSshPrivateKey(blob, [...head, sshMpint(d)], comment),
    public: publicKeyLine(type, blob, comment),
  };
}

/** A key of the given shape, named by `label` (the same label, the same key). */
export function ecdsaKey(bits: EcdsaBits, shape: ScalarShape, label: string): EcdsaKey {
  return ecdsaKeyPair(bits, scalarFor(bits, shape, label), label);
}

/** The private scalar field as an OpenSSH ECDSA key file stores it (mpint bytes). */
export function scalarField(privateText: string): Uint8Array {
  const b64 = privateText.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  const file = new Uint8Array(Buffer.from(b64, "base64"));
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  let at = "openssh-key-v1\0".length;
  const next = () => {
    const n = view.getUint32(at);
    const field = file.subarray(at + 4, at + 4 + n);
    at += 4 + n;
    return field;
  };
  const cipher = new TextDecoder().decode(next());
  if (cipher !== "none") throw new Error("scalarField() reads unencrypted keys only");
  next(); // kdf name
  next(); // kdf options
  at += 4; // number of keys
  next(); // public key
  at += 4 + 8; // private section length, check words
  const type = new TextDecoder().decode(next());
  if (!type.startsWith("ecdsa-sha2-")) throw new Error(`not an ECDSA key: ${type}`);
  next(); // curve
  next(); // Q
  return next();
}
