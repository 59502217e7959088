/**
 * Puts warren's packet ciphers (`ciphers.ts`) under ssh2.
 *
 * ssh2 1.17 picks its packet cipher classes in `lib/protocol/crypto.js`
 * (`createCipher`, `createDecipher`), which its key exchange module
 * destructures when it is first loaded. This module replaces those two
 * exports before ssh2 itself loads: it must be imported before "ssh2", which
 * `lib/ssh/ssh2.ts` (the only importer of ssh2) does. The ciphers warren
 * does not frame (see below) still go to ssh2's own code.
 *
 * This is a documented override of two exported functions, not a patched
 * copy of ssh2: `crypto_hook_test.ts` fails if ssh2 no longer has the shape
 * it relies on (pinned version, the two exports, and a live connection really
 * using these ciphers), so upgrading ssh2 cannot silently bypass it.
 * warren frames the AEAD ciphers with either backend, and aes*-ctr with
 * HMAC-SHA1/SHA2 (ETM or not) with libcrypto; the rest (aes-ctr under the
 * builtin backend, truncated or MD5 MACs, CBC) stays with ssh2's code.
 *
 * The primitives backend is chosen once per process:
 *   WARREN_CRYPTO=auto (default): libcrypto 3 through FFI when it loads, else builtin
 *   WARREN_CRYPTO=openssl: libcrypto or fail at start
 *   WARREN_CRYPTO=builtin: node:crypto and WebAssembly only
 */
// ssh2 internals; no types.
import sshCrypto from "ssh2/lib/protocol/crypto.js";
import { UsageError, WarrenError } from "../../errors.ts";
import { loadBuiltin } from "./builtin.ts";
import {
  type CipherConfig,
  createOpener,
  createSealer,
  type DecipherConfig,
  framedByWarren,
  PacketOpener,
  PacketSealer,
} from "./ciphers.ts";
import { loadOpenSsl } from "./openssl.ts";
import type { Primitives } from "./primitives.ts";

export type CryptoMode = "auto" | "openssl" | "builtin";
export const CRYPTO_MODES: readonly CryptoMode[] = ["auto", "openssl", "builtin"];

interface Ssh2Crypto {
  createCipher(config: unknown): unknown;
  createDecipher(config: unknown): unknown;
}

const target = sshCrypto as unknown as Ssh2Crypto;
const original = { createCipher: target.createCipher, createDecipher: target.createDecipher };
/** ssh2's own functions, for tests that compare the two implementations. */
export const originalSsh2Crypto: Readonly<Ssh2Crypto> = original;
if (typeof original.createCipher !== "function" || typeof original.createDecipher !== "function") {
  throw new Error("ssh2's crypto module no longer exports createCipher/createDecipher");
}

// Swap the two exports before the first await: a module with top-level await
// lets its sibling imports (ssh2 itself) evaluate while it waits, and ssh2's
// key exchange module copies these functions when it loads.
target.createCipher = (config: unknown) => {
  const c = config as CipherConfig;
  const { primitives } = activeCrypto();
  if (framedByWarren(c?.outbound?.cipherInfo?.sslName, c?.outbound?.macInfo, primitives)) {
    return createSealer(c, primitives);
  }
  return finishOnFree(original.createCipher(config), "_cipherInstance");
};

target.createDecipher = (config: unknown) => {
  const c = config as DecipherConfig;
  const { primitives } = activeCrypto();
  if (framedByWarren(c?.inbound?.decipherInfo?.sslName, c?.inbound?.macInfo, primitives)) {
    return createOpener(c, primitives);
  }
  return finishOnFree(original.createDecipher(config), "_decipherInstance");
};

/**
 * ssh2's aes-ctr/cbc classes keep one node:crypto object for the life of the
 * connection and never finish it; under Deno that leaks a native resource
 * per connection. Finish it when ssh2 frees the cipher.
 */
function finishOnFree(cipher: unknown, field: string): unknown {
  const c = cipher as Record<string, unknown> & { free?: () => void };
  const free = c?.free;
  if (typeof free !== "function") return cipher;
  c.free = function (this: unknown) {
    free.call(this);
    const inner = c[field] as { final?: () => unknown } | undefined;
    c[field] = undefined;
    try {
      inner?.final?.();
    } catch { /* a partial block or a finished object: nothing to release */ }
  };
  return cipher;
}

const builtin = await loadBuiltin();
// Load libcrypto now, once per process, rather than inside the first
// connection (the library stays loaded for the life of the process); not at
// all when WARREN_CRYPTO=builtin keeps warren off native libraries.
if (builtinRequested() !== true) loadOpenSsl();

function builtinRequested(): boolean | undefined {
  try {
    return Deno.env.get("WARREN_CRYPTO") === "builtin";
  } catch {
    return undefined; // no env permission: auto
  }
}
let active: Primitives | undefined;
/** Why libcrypto is not in use, when it is not. */
let fallbackReason: string | undefined;

/** Choose the backend; throws when `openssl` is demanded but unavailable. */
export function selectCrypto(mode: CryptoMode): Primitives {
  if (mode === "builtin") {
    fallbackReason = "WARREN_CRYPTO=builtin";
    active = builtin;
    return active;
  }
  const loaded = loadOpenSsl();
  if (loaded.ok) {
    fallbackReason = undefined;
    active = loaded.openssl;
  } else if (mode === "openssl") {
    throw new WarrenError(
      "config",
      `WARREN_CRYPTO=openssl: cannot use libcrypto: ${loaded.reason}`,
    );
  } else {
    fallbackReason = loaded.reason;
    active = builtin;
  }
  return active;
}

/** Apply WARREN_CRYPTO (unset = auto); a bad value is a usage error. */
export function configureCrypto(value: string | undefined): Primitives {
  const mode = (value === undefined || value === "" ? "auto" : value) as CryptoMode;
  if (!CRYPTO_MODES.includes(mode)) {
    throw new UsageError(`Invalid WARREN_CRYPTO '${value}': expected auto, openssl or builtin`);
  }
  return selectCrypto(mode);
}

/** The backend in use (chosen with mode auto on first use). */
export function activeCrypto(): { primitives: Primitives; fallbackReason?: string } {
  const primitives = active ?? selectCrypto("auto");
  return { primitives, fallbackReason };
}

/**
 * The cipher preference warren offers: OpenSSH's default set, ordered by
 * what is fastest with the active backend (AES-GCM is one pass in libcrypto;
 * through node:crypto ChaCha20-Poly1305 is about twice as fast as AES-GCM).
 */
export function preferredCiphers(): string[] {
  const gcm = ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com"];
  const chacha = ["chacha20-poly1305@openssh.com"];
  const ctr = ["aes128-ctr", "aes192-ctr", "aes256-ctr"];
  return activeCrypto().primitives.name === "openssl"
    ? [...gcm, ...chacha, ...ctr]
    : [...chacha, ...gcm, ...ctr];
}

/** Whether an ssh2 Client/Connection's transport uses warren's ciphers now. */
export function usesWarrenCiphers(sshObject: unknown): boolean {
  // deno-lint-ignore no-explicit-any
  const proto = (sshObject as any)?._protocol;
  return proto?._cipher instanceof PacketSealer && proto?._decipher instanceof PacketOpener;
}
