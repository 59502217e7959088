/**
 * The cryptographic primitives SSH's bulk ciphers are built from, as one
 * interface with two implementations: the system's libcrypto through FFI
 * (`openssl.ts`, fast) and node:crypto plus WebAssembly (`builtin.ts`, always
 * there), and the AES-GCM IV's step, which both the framing and libcrypto's
 * own IV counting follow. The SSH packet framing on top of them is in
 * `ciphers.ts`.
 */

/**
 * The next AES-GCM IV of an SSH connection (RFC 5647): +1 on the 64-bit
 * big-endian invocation counter in iv[4..12].
 */
export function incrementIv(iv: Uint8Array): void {
  for (let i = 11; i >= 4; i--) {
    iv[i] = (iv[i] + 1) & 0xff;
    if (iv[i] !== 0) return;
  }
}

/** AES-GCM with the 12-byte IV given per call; out may be data itself. */
export interface AesGcm {
  /** Encrypt data into out and write the 16-byte tag. */
  seal(iv: Uint8Array, aad: Uint8Array, data: Uint8Array, out: Uint8Array, tag: Uint8Array): void;
  /** Decrypt data into out; false when the tag does not match. */
  open(
    iv: Uint8Array,
    aad: Uint8Array,
    data: Uint8Array,
    out: Uint8Array,
    tag: Uint8Array,
  ): boolean;
  /**
   * Decryption in steps (libcrypto only): begin with the IV, the AAD and the
   * expected tag, decrypt parts in order (each into its own `out`), then
   * finish: false when the tag does not match.
   */
  openBegin?(iv: Uint8Array, aad: Uint8Array, tag: Uint8Array): void;
  openUpdate?(data: Uint8Array, out: Uint8Array): void;
  openFinish?(): boolean;
  /**
   * Encryption in steps (libcrypto only): begin with the IV and the AAD,
   * encrypt parts in order (each into its own `out`), then finish by
   * writing the 16-byte tag.
   */
  sealBegin?(iv: Uint8Array, aad: Uint8Array): void;
  sealUpdate?(data: Uint8Array, out: Uint8Array): void;
  sealFinish?(tag: Uint8Array): void;
  free(): void;
}

/** Raw ChaCha20 with a 16-byte IV (32-bit LE counter, 96-bit nonce). */
export interface ChaCha20 {
  xor(iv: Uint8Array, data: Uint8Array, out: Uint8Array): void;
  free(): void;
}

export interface Poly1305 {
  /** Write the 16-byte tag of a || b under the one-time 32-byte key. */
  mac(key: Uint8Array, a: Uint8Array, b: Uint8Array, out: Uint8Array): void;
  free(): void;
}

/**
 * AES in counter mode as SSH's aes*-ctr uses it: one keystream per direction
 * for the life of the keys, running on across calls (a call may end in the
 * middle of a block; the next goes on from there). out may be data itself.
 */
export interface AesCtr {
  xor(data: Uint8Array, out: Uint8Array): void;
  free(): void;
}

/** The hash functions SSH's HMACs are built on (ssh2's names for them). */
export type HmacDigest = "sha1" | "sha256" | "sha512";

/** HMAC under one key: begin, the parts in order, finish. */
export interface Hmac {
  /** The MAC's length in bytes. */
  readonly size: number;
  begin(): void;
  update(data: Uint8Array): void;
  /** Write the MAC (`size` bytes) to out. */
  finish(out: Uint8Array): void;
  free(): void;
}

export interface Primitives {
  readonly name: "openssl" | "builtin";
  /** For logs: which library, which version. */
  readonly description: string;
  aesGcm(key: Uint8Array, encrypt: boolean): AesGcm;
  chacha20(key: Uint8Array): ChaCha20;
  poly1305(): Poly1305;
  /**
   * aes*-ctr and the HMACs, where the backend has them (libcrypto); without
   * them those ciphers stay with ssh2's own code.
   */
  aesCtr?(key: Uint8Array, iv: Uint8Array): AesCtr;
  hmac?(digest: HmacDigest, key: Uint8Array): Hmac;
}
