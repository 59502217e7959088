/**
 * Unencrypted OpenSSH private key files, as `ssh-keygen -N ''` writes them
 * (PROTOCOL.key in openssh-portable): "openssh-key-v1", cipher and KDF
 * "none", one key, its public blob, then the private section (two equal
 * check words, the key's fields, the comment, padding 1, 2, 3, ... to a
 * multiple of 8), base64 in an `-----BEGIN OPENSSH PRIVATE KEY-----` block.
 *
 * Field encodings are the SSH wire ones (RFC 4251 §5): a string is a 32-bit
 * length and the bytes; an mpint is a string holding the shortest
 * two's-complement big-endian form, so a positive number whose top bit is
 * set gets a leading zero byte.
 */
import { Buffer } from "node:buffer";
import { randomBytes } from "node:crypto";
import { concat } from "../net/io.ts";

const MAGIC = new TextEncoder().encode("openssh-key-v1\0");
const BLOCK = 8;

/** An SSH string: 32-bit big-endian length, then the bytes. */
export function sshString(bytes: Uint8Array | string): Uint8Array {
  const body = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

/** An SSH mpint of the non-negative big-endian number `magnitude`. */
export function sshMpint(magnitude: Uint8Array): Uint8Array {
  let start = 0;
  while (start < magnitude.length && magnitude[start] === 0) start++;
  const digits = magnitude.subarray(start);
  if (digits.length > 0 && digits[0] & 0x80) return sshString(concat([new Uint8Array(1), digits]));
  return sshString(digits);
}

/**
 * The private key file for one key: `publicBlob` is its public key blob,
 * `privateFields` its fields in the private section, from the key type
 * string on (for ssh-ed25519: type, public key, seed + public key).
 */
export function encodeOpenSshPrivateKey(
  publicBlob: Uint8Array,
  privateFields: Uint8Array[],
  comment = "",
): string {
  const check = randomBytes(4);
  const body = concat([check, check, ...privateFields, sshString(comment)]);
  const padLength = (BLOCK - body.length % BLOCK) % BLOCK;
  const padding = Uint8Array.from({ length: padLength }, (_, i) => i + 1);
  const file = concat([
    MAGIC,
    sshString("none"),
    sshString("none"),
    sshString(""),
    new Uint8Array([0, 0, 0, 1]),
    sshString(publicBlob),
    sshString(concat([body, padding])),
  ]);
  const lines = Buffer.from(file).toString("base64").match(/.{1,70}/g) ?? [];
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${
    lines.join("\n")
  }\n-----END OPENSSH PRIVATE KEY-----\n`;
}

/** "TYPE BASE64 COMMENT", an authorized_keys / .pub line (no newline). */
export function publicKeyLine(type: string, publicBlob: Uint8Array, comment = ""): string {
  const line = `${type} ${Buffer.from(publicBlob).toString("base64")}`;
  return comment ? `${line} ${comment}` : line;
}
