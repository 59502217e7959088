/**
 * ECDSA keys whose private scalar has a leading zero byte sign under Deno.
 *
 * OpenSSH stores an ECDSA private scalar as an SSH mpint, which gets a
 * leading zero byte when its top bit is set: for P-256 and P-384 that is
 * about half of all keys (33 and 49 bytes instead of 32 and 48). ssh2 1.17
 * copies those bytes as they are into the SEC1 ECPrivateKey it signs with
 * (`genOpenSSLECDSAPriv` in lib/protocol/keyParser.js). OpenSSL, under
 * Node, takes the over-long octet string; Deno's node:crypto takes at most
 * the curve's size and throws "invalid SEC1 private key". So such a key
 * could not sign: as a client key, publickey auth failed after the server
 * had accepted the key; as `warren serve`'s host key, every handshake
 * failed. P-521 scalars (at most 66 bytes, top byte 0 or 1) never carry the
 * extra byte.
 *
 * All of ssh2's parsed keys share one prototype (`BaseKey` in keyParser.js)
 * whose `sign()` reads the key's SEC1 PEM. This module wraps that `sign()`:
 * for an ECDSA key whose scalar is not exactly its curve's size it signs
 * with the same key written with the scalar at that size (leading zeros
 * dropped or added, RFC 5915 §3), through a view of the key object; the
 * key itself stays as ssh2 made it. `ecdsa_scalar_test.ts` fails if ssh2's
 * keys no longer have the shape this relies on. lib/ssh/ssh2.ts loads it.
 */
import { Buffer } from "node:buffer";
// ssh2 internals; no types.
import keyParser from "ssh2/lib/protocol/keyParser.js";
import { concat } from "../net/io.ts";
import { publicKeyLine, sshString } from "./openssh_key.ts";

type KeyObject = Record<string | symbol, unknown>;
type Signer = (this: object, data: Uint8Array, algo?: string) => Uint8Array | Error;

/** Scalar size in bytes by the DER of the curve's OID. */
const CURVE_SIZES = new Map<string, number>([
  ["06082a8648ce3d030107", 32], // prime256v1 (P-256)
  ["06052b81040022", 48], // secp384r1 (P-384)
  ["06052b81040023", 66], // secp521r1 (P-521)
]);

const { parseKey } = keyParser as unknown as { parseKey(data: string): unknown };

// Any parsed key shows the prototype and the symbol ssh2 keeps its PEM under.
const zeroKey = publicKeyLine(
  "ssh-ed25519",
  concat([sshString("ssh-ed25519"), sshString(new Uint8Array(32))]),
);
const sample = parseKey(zeroKey) as Record<symbol, unknown>;
const baseKey = sample instanceof Error ? undefined : Object.getPrototypeOf(sample) as {
  sign?: Signer;
};
const PRIVATE_PEM = sample instanceof Error
  ? undefined
  : Object.getOwnPropertySymbols(sample).find((s) => s.description === "Private key PEM");

/** ssh2's own sign(), for the tests. */
export const originalSign: Signer | undefined = baseKey?.sign;

/** Whether the wrapper is in place. */
export const ecdsaSignPatched = typeof originalSign === "function" && PRIVATE_PEM !== undefined;

/** The fixed PEM per key object (null: nothing to fix). */
const fixed = new WeakMap<object, string | null>();

if (ecdsaSignPatched) {
  const sign = originalSign!;
  const symbol = PRIVATE_PEM!;
  baseKey!.sign = function (this: object, data, algo) {
    const key = this as KeyObject;
    if (typeof key.type !== "string" || !key.type.startsWith("ecdsa-sha2-")) {
      return sign.call(this, data, algo);
    }
    let pem = fixed.get(this);
    if (pem === undefined) {
      const own = key[symbol];
      pem = typeof own === "string" ? sec1WithFullScalar(own) ?? null : null;
      fixed.set(this, pem);
    }
    if (pem === null) return sign.call(this, data, algo);
    const view = Object.create(this, { [symbol]: { value: pem } });
    return sign.call(view, data, algo);
  };
}

interface Tlv {
  tag: number;
  /** Start of the whole element, of its contents, and its end. */
  start: number;
  body: number;
  end: number;
}

function readTlv(der: Uint8Array, at: number): Tlv | undefined {
  if (at + 2 > der.length) return undefined;
  const tag = der[at];
  let length = der[at + 1];
  let body = at + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 3 || body + n > der.length) return undefined;
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + der[body + i];
    body += n;
  }
  const end = body + length;
  return end <= der.length ? { tag, start: at, body, end } : undefined;
}

function writeTlv(tag: number, contents: Uint8Array): Uint8Array {
  const n = contents.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return concat([new Uint8Array([tag, ...length]), contents]);
}

const PEM_RE =
  /^-----BEGIN EC PRIVATE KEY-----\r?\n([A-Za-z0-9+/=\r\n]+?)\r?\n?-----END EC PRIVATE KEY-----\s*$/;

/**
 * An `EC PRIVATE KEY` PEM (SEC1, RFC 5915) with its private scalar at the
 * curve's size, or undefined when it already is, or cannot be read or fixed.
 */
export function sec1WithFullScalar(pem: string): string | undefined {
  const m = PEM_RE.exec(pem);
  if (!m) return undefined;
  const der = new Uint8Array(Buffer.from(m[1].replace(/\s+/g, ""), "base64"));
  const seq = readTlv(der, 0);
  if (seq?.tag !== 0x30) return undefined;
  const version = readTlv(der, seq.body);
  if (version?.tag !== 0x02) return undefined;
  const scalar = readTlv(der, version.end);
  if (scalar?.tag !== 0x04) return undefined;
  let size: number | undefined;
  for (let at = scalar.end; at < seq.end;) {
    const el = readTlv(der, at);
    if (el === undefined) return undefined;
    if (el.tag === 0xa0) {
      const oid = readTlv(der, el.body);
      if (oid?.tag === 0x06) {
        size = CURVE_SIZES.get(Buffer.from(der.subarray(oid.start, oid.end)).toString("hex"));
      }
    }
    at = el.end;
  }
  if (size === undefined) return undefined;
  let digits = der.subarray(scalar.body, scalar.end);
  if (digits.length === size) return undefined;
  let skip = 0;
  while (skip < digits.length && digits[skip] === 0) skip++;
  digits = digits.subarray(skip);
  if (digits.length > size) return undefined;
  const full = new Uint8Array(size);
  full.set(digits, size - digits.length);
  const body = concat([
    der.subarray(version.start, version.end),
    writeTlv(0x04, full),
    der.subarray(scalar.end, seq.end),
  ]);
  const lines = Buffer.from(writeTlv(0x30, body)).toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN EC PRIVATE KEY-----\n${lines.join("\n")}\n-----END EC PRIVATE KEY-----`;
}
