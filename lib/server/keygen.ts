/**
 * Ed25519 key pairs in OpenSSH's formats: the private key as an
 * `-----BEGIN OPENSSH PRIVATE KEY-----` block (what ssh-keygen writes,
 * unencrypted) and the public key as one authorized_keys / `.pub` line.
 * `warren serve` uses it for its host key, the demo and the tests for client
 * keys.
 *
 * The key comes from node:crypto and is written by `openssh_key.ts`, not by
 * ssh2's generator: ssh2 1.17 (lib/keygen.js) strips every leading zero byte
 * of the DER bit string to drop its "unused bits" byte, so a public key that
 * starts with a zero byte (1 key in 256) came out 31 bytes long, a key
 * nothing accepts. Here the 32 bytes are taken as they are.
 */
import { Buffer } from "node:buffer";
import { createPrivateKey, createPublicKey, randomBytes } from "node:crypto";
import { concat } from "../net/io.ts";
import { encodeOpenSshPrivateKey, publicKeyLine, sshString } from "../ssh/openssh_key.ts";
import { type ParsedKey, utils } from "../ssh/ssh2.ts";

export interface KeyPair {
  /** OpenSSH private key text (unencrypted). */
  private: string;
  /** "ssh-ed25519 AAAA... comment". */
  public: string;
  /** The public key, parsed. */
  parsed: ParsedKey;
}

/** PKCS#8 for Ed25519 (RFC 8410), up to the 32-byte seed. */
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

/** A fresh ed25519 key pair. */
export function generateEd25519(comment = ""): KeyPair {
  return ed25519KeyPair(randomBytes(32), comment);
}

/** The key pair of a 32-byte private seed. */
export function ed25519KeyPair(seed: Uint8Array, comment = ""): KeyPair {
  if (seed.length !== 32) throw new RangeError("An ed25519 seed is 32 bytes");
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: "der",
    type: "pkcs8",
  });
  const jwk = createPublicKey(privateKey).export({ format: "jwk" });
  const pub = Buffer.from(jwk.x ?? "", "base64url");
  if (pub.length !== 32) throw new Error(`node:crypto gave a ${pub.length}-byte ed25519 key`);
  const type = "ssh-ed25519";
  const blob = concat([sshString(type), sshString(pub)]);
  const privateText = encodeOpenSshPrivateKey(
    blob,
    [sshString(type), sshString(pub), sshString(concat([seed, pub]))],
    comment,
  );
  const line = publicKeyLine(type, blob, comment);
  const parsed = utils.parseKey(line);
  if (parsed instanceof Error) throw parsed;
  return { private: privateText, public: line, parsed: parsed as ParsedKey };
}
