/**
 * Ed25519 key pairs in OpenSSH's formats, made by ssh2's generator: the
 * private key as an `-----BEGIN OPENSSH PRIVATE KEY-----` block (what
 * ssh-keygen writes, unencrypted) and the public key as one authorized_keys /
 * `.pub` line. `warren serve` uses it for its host key, the demo and the tests
 * for client keys.
 *
 * Under Deno, ssh2's generator sometimes drops a leading zero byte of the
 * public key (about 1 key in 256), producing a 31-byte key that nothing
 * accepts. Each pair is parsed back and made again when that happens.
 */
import { type ParsedKey, utils } from "../ssh/ssh2.ts";

export interface KeyPair {
  /** OpenSSH private key text (unencrypted). */
  private: string;
  /** "ssh-ed25519 AAAA... comment". */
  public: string;
  /** The public key, parsed. */
  parsed: ParsedKey;
}

const ED25519_BLOB_LENGTH = 4 + "ssh-ed25519".length + 4 + 32;
const MAX_ATTEMPTS = 16;

/** A fresh ed25519 key pair whose public key ssh2 and OpenSSH accept. */
export function generateEd25519(comment = ""): KeyPair {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const pair = utils.generateKeyPairSync("ed25519", { comment });
    const pub = utils.parseKey(pair.public);
    if (pub instanceof Error || utils.parseKey(pair.private) instanceof Error) continue;
    if (pub.getPublicSSH().length !== ED25519_BLOB_LENGTH) continue;
    return { private: pair.private, public: pair.public.trim(), parsed: pub };
  }
  throw new Error(`Cannot generate an ed25519 key: ${MAX_ATTEMPTS} malformed keys in a row`);
}
