/** SSH public key blobs: their type name and SHA-256 fingerprint. */

import { createHash } from "node:crypto";

/** "SHA256:" and the unpadded base64 SHA-256 of the blob, as ssh-keygen -l. */
export function fingerprintSha256(keyBlob: Uint8Array): string {
  const digest = createHash("sha256").update(keyBlob).digest("base64");
  return `SHA256:${digest.replace(/=+$/, "")}`;
}

/** The key type: the leading SSH string of a public key blob. */
export function keyTypeOfBlob(keyBlob: Uint8Array): string {
  if (keyBlob.length < 4) {
    throw new SyntaxError("Cannot read key type: the key blob is too short");
  }
  const view = new DataView(keyBlob.buffer, keyBlob.byteOffset, 4);
  const length = view.getUint32(0);
  if (length === 0 || length > 256 || 4 + length > keyBlob.length) {
    throw new SyntaxError("Cannot read key type: bad length in the key blob");
  }
  const type = String.fromCharCode(...keyBlob.subarray(4, 4 + length));
  if (!/^[\x21-\x7e]+$/.test(type)) {
    throw new SyntaxError("Cannot read key type: it is not printable text");
  }
  return type;
}
