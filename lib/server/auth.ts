/**
 * Public-key authentication for `warren serve`: is this key, from this
 * address, now, with this signature, allowed in?
 *
 * The offered key must be a line of the authorized_keys file whose options
 * admit the client (from=, expiry-time=); with several lines for one key the
 * first that admits wins, as in sshd. A probe (no signature) gets "this key
 * would do" only for such a line; a signature is verified with ssh2. The
 * file is read afresh for each connection, so keys can be added or removed
 * without a restart.
 */
import { Buffer } from "node:buffer";
import { type ParsedKey, utils } from "../ssh/ssh2.ts";
import { type AuthorizedKey, type AuthorizedKeys, parseAuthorizedKeys } from "./authorized_keys.ts";
import { fromAllows } from "./from_match.ts";
import { normalizeAddress } from "../net/cidr.ts";

export type KeyCheck =
  | { ok: true; key: AuthorizedKey }
  | { ok: false; why: string };

export interface OfferedKey {
  /** The public key blob the client offered. */
  blob: Uint8Array;
  /** Signature and signed data; both absent for a probe. */
  signature?: Uint8Array;
  signed?: Uint8Array;
  /** For RSA: "sha256" / "sha512" (rsa-sha2-*), else undefined. */
  hashAlgo?: string;
}

/** RSA signatures are accepted with SHA-2 only (rsa-sha2-256, rsa-sha2-512). */
const RSA_SHA2 = new Set(["sha256", "sha512"]);
/** Why an ssh-rsa (SHA-1) signature, or a probe for one, is refused. */
export const SHA1_REFUSED = "ssh-rsa signs with SHA-1, refused as by OpenSSH since 8.8; " +
  "the client must sign with rsa-sha2-256 or rsa-sha2-512";

/** Read and parse the file; a read failure is an error the caller reports. */
export async function readAuthorizedKeys(file: string): Promise<AuthorizedKeys> {
  return parseAuthorizedKeys(await Deno.readTextFile(file), file);
}

/** "file:line" of a key line. */
export function keyWhere(key: AuthorizedKey): string {
  return `${key.file}:${key.line}`;
}

/** Decide on an offered key (probe or signed) from client address `ip`. */
export function checkKey(
  keys: AuthorizedKey[],
  offered: OfferedKey,
  ip: string,
  now: Date = new Date(),
): KeyCheck {
  const blob = Buffer.from(offered.blob);
  const lines = keys.filter((k) => blob.equals(k.keyBlob));
  if (lines.length === 0) return { ok: false, why: "the key is not in the authorized keys" };
  if (lines[0].keyType === "ssh-rsa" && !RSA_SHA2.has(offered.hashAlgo ?? "")) {
    return { ok: false, why: SHA1_REFUSED };
  }
  let why = "";
  for (const key of lines) {
    const o = key.options;
    if (o.expiry !== undefined && now >= o.expiry) {
      why ||= `the key expired at ${o.expiry.toISOString()} (${keyWhere(key)})`;
      continue;
    }
    if (o.from !== undefined && !fromAllows(o.from, ip)) {
      why ||= `from="${o.fromText}" does not admit ${normalizeAddress(ip)} (${keyWhere(key)})`;
      continue;
    }
    if (offered.signature === undefined) return { ok: true, key };
    return verify(key, offered)
      ? { ok: true, key }
      : { ok: false, why: `bad signature for the key of ${keyWhere(key)}` };
  }
  return { ok: false, why };
}

function verify(key: AuthorizedKey, offered: OfferedKey): boolean {
  let parsed = utils.parseKey(`${key.keyType} ${Buffer.from(key.keyBlob).toString("base64")}`);
  if (Array.isArray(parsed)) parsed = parsed[0];
  if (parsed instanceof Error || offered.signed === undefined) return false;
  try {
    return (parsed as ParsedKey).verify(
      Buffer.from(offered.signed),
      Buffer.from(offered.signature!),
      offered.hashAlgo,
    ) === true;
  } catch {
    return false; // a malformed signature is a failed one
  }
}
