/**
 * The system's OpenSSL 3 libcrypto through Deno's FFI, for the ciphers SSH
 * bulk data uses: AES-GCM, the ChaCha20 + Poly1305 pieces of
 * chacha20-poly1305@openssh.com, and AES-CTR with HMAC-SHA1/SHA2 (what
 * servers without the AEAD ciphers negotiate).
 *
 * Loading is best effort and never prompts: without `--allow-ffi`, or where no
 * libcrypto 3 is found (most Windows and macOS machines), `loadOpenSsl()`
 * returns the reason and warren keeps its pure path (node:crypto).
 *
 * Contexts are allocated once per direction and key and reused for every
 * packet (only the IV changes, counted by OpenSSL for AES-GCM), so a packet
 * costs a handful of FFI calls and no allocation. Every context is freed by
 * `free()`; a FinalizationRegistry frees the ones a dropped connection never
 * freed.
 */
import { Buffer } from "node:buffer";
import { createCipheriv, createHmac } from "node:crypto";
import {
  type AesCtr,
  type Hmac,
  type HmacDigest,
  incrementIv,
  type Primitives,
} from "./primitives.ts";

const SYMBOLS = {
  EVP_CIPHER_CTX_new: { parameters: [], result: "pointer" },
  EVP_CIPHER_CTX_free: { parameters: ["pointer"], result: "void" },
  EVP_aes_128_gcm: { parameters: [], result: "pointer" },
  EVP_aes_256_gcm: { parameters: [], result: "pointer" },
  EVP_chacha20: { parameters: [], result: "pointer" },
  EVP_CipherInit_ex: {
    parameters: ["pointer", "pointer", "pointer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  EVP_CipherUpdate: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  EVP_CipherFinal_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  EVP_CIPHER_CTX_ctrl: { parameters: ["pointer", "i32", "i32", "buffer"], result: "i32" },
  EVP_Cipher: { parameters: ["pointer", "buffer", "buffer", "u32"], result: "i32" },
  EVP_MAC_fetch: { parameters: ["pointer", "buffer", "pointer"], result: "pointer" },
  EVP_MAC_free: { parameters: ["pointer"], result: "void" },
  EVP_MAC_CTX_new: { parameters: ["pointer"], result: "pointer" },
  EVP_MAC_CTX_free: { parameters: ["pointer"], result: "void" },
  EVP_MAC_init: { parameters: ["pointer", "buffer", "usize", "pointer"], result: "i32" },
  EVP_MAC_update: { parameters: ["pointer", "buffer", "usize"], result: "i32" },
  EVP_MAC_final: { parameters: ["pointer", "buffer", "buffer", "usize"], result: "i32" },
  OpenSSL_version_num: { parameters: [], result: "u64" },
  // aes*-ctr and the HMACs; optional: a libcrypto without them (one built
  // without the deprecated HMAC_CTX calls) still serves the AEAD ciphers.
  EVP_aes_128_ctr: { parameters: [], result: "pointer", optional: true },
  EVP_aes_192_ctr: { parameters: [], result: "pointer", optional: true },
  EVP_aes_256_ctr: { parameters: [], result: "pointer", optional: true },
  EVP_sha1: { parameters: [], result: "pointer", optional: true },
  EVP_sha256: { parameters: [], result: "pointer", optional: true },
  EVP_sha512: { parameters: [], result: "pointer", optional: true },
  HMAC_CTX_new: { parameters: [], result: "pointer", optional: true },
  HMAC_CTX_free: { parameters: ["pointer"], result: "void", optional: true },
  HMAC_Init_ex: {
    parameters: ["pointer", "buffer", "i32", "pointer", "pointer"],
    result: "i32",
    optional: true,
  },
  HMAC_Update: { parameters: ["pointer", "buffer", "usize"], result: "i32", optional: true },
  HMAC_Final: { parameters: ["pointer", "buffer", "buffer"], result: "i32", optional: true },
} as const;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

const EVP_CTRL_AEAD_GET_TAG = 0x10;
const EVP_CTRL_AEAD_SET_TAG = 0x11;
const EVP_CTRL_GCM_SET_IV_FIXED = 0x12;
const EVP_CTRL_GCM_IV_GEN = 0x13;

/** Where libcrypto 3 usually is, per platform, most specific first. */
function candidates(): string[] {
  switch (Deno.build.os) {
    case "linux":
      return ["libcrypto.so.3", "libcrypto.so"];
    case "darwin":
      return [
        "/opt/homebrew/opt/openssl@3/lib/libcrypto.3.dylib",
        "/usr/local/opt/openssl@3/lib/libcrypto.3.dylib",
        "/opt/local/lib/libcrypto.3.dylib",
      ];
    case "windows":
      return ["libcrypto-3-x64.dll", "libcrypto-3.dll"];
    default:
      return ["libcrypto.so.3"];
  }
}

export type LoadResult = { ok: true; openssl: Primitives } | { ok: false; reason: string };

let cached: LoadResult | undefined;

/** Load libcrypto once; later calls return the same result. */
export function loadOpenSsl(): LoadResult {
  cached ??= tryLoad();
  return cached;
}

function tryLoad(): LoadResult {
  let state: Deno.PermissionState;
  try {
    state = Deno.permissions.querySync({ name: "ffi" }).state;
  } catch (err) {
    return { ok: false, reason: `cannot query the ffi permission (${String(err)})` };
  }
  if (state !== "granted") return { ok: false, reason: "no --allow-ffi permission" };
  const errors: string[] = [];
  for (const path of candidates()) {
    let lib: Deno.DynamicLibrary<typeof SYMBOLS>;
    try {
      lib = Deno.dlopen(path, SYMBOLS);
    } catch (err) {
      errors.push(`${path}: ${err instanceof Error ? err.message.split("\n")[0] : err}`);
      continue;
    }
    const version = BigInt(lib.symbols.OpenSSL_version_num());
    const major = Number(version >> 28n);
    if (major < 3) {
      lib.close();
      errors.push(`${path}: OpenSSL ${major}.x, need 3`);
      continue;
    }
    const minor = Number((version >> 20n) & 0xffn);
    let openssl = bind(lib.symbols, `${path} (OpenSSL ${major}.${minor})`);
    const check = selfTest(openssl);
    if (check !== null) {
      lib.close();
      errors.push(`${path}: self-test failed: ${check}`);
      continue;
    }
    if (ctrAndHmacSelfTest(openssl) !== null) {
      const { aesCtr: _ctr, hmac: _hmac, ...aeadOnly } = openssl;
      openssl = aeadOnly;
    }
    return { ok: true, openssl };
  }
  return { ok: false, reason: errors.join("; ") || "no libcrypto found" };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function fail(what: string): never {
  throw new Error(`libcrypto ${what} failed`);
}

/**
 * libcrypto writes and reads through raw pointers: a buffer shorter than
 * what a call will touch would corrupt memory, not throw. Every call that
 * writes `n` bytes to `buf` (or reads a fixed `n` from it) checks first.
 */
function holds(buf: Uint8Array, n: number, what: string): void {
  if (buf.length < n) {
    throw new Error(`libcrypto ${what}: ${buf.length} bytes where ${n} are needed`);
  }
}

const registry = new FinalizationRegistry<() => void>((free) => free());

function bind(lib: Lib, description: string): Primitives {
  const outLen = new Int32Array(1);
  const outLenBytes = new Uint8Array(outLen.buffer);
  const sizeOut = new BigUint64Array(1);
  const sizeOutBytes = new Uint8Array(sizeOut.buffer);
  const scratch = new Uint8Array(16);

  function newCtx(): Deno.PointerObject {
    const ctx = lib.EVP_CIPHER_CTX_new();
    if (ctx === null) fail("EVP_CIPHER_CTX_new");
    return ctx;
  }

  function owned<T extends { free(): void }>(obj: T, release: () => void): T {
    let done = false;
    const freeOnce = () => {
      if (done) return;
      done = true;
      release();
    };
    const token = {};
    registry.register(obj, freeOnce, token);
    obj.free = () => {
      registry.unregister(token);
      freeOnce();
    };
    return obj;
  }

  return {
    name: "openssl",
    description,
    aesGcm(key, encrypt) {
      const type = key.length === 16
        ? lib.EVP_aes_128_gcm()
        : key.length === 32
        ? lib.EVP_aes_256_gcm()
        : fail("AES-GCM key length");
      const ctx = newCtx();
      const enc = encrypt ? 1 : 0;
      if (lib.EVP_CipherInit_ex(ctx, type, null, key, null, enc) !== 1) {
        lib.EVP_CIPHER_CTX_free(ctx);
        fail("EVP_CipherInit_ex(aes-gcm)");
      }
      // OpenSSL counts the IV itself, as OpenSSH has it do: the whole IV is
      // set once (SET_IV_FIXED) and each packet takes the next (IV_GEN, which
      // steps the last 8 bytes as RFC 5647 does). Setting the IV with
      // EVP_CipherInit_ex per packet made a small packet's seal 5 µs in a
      // busy process (0.6 in a tight loop). `next` is the IV OpenSSL
      // will use next; an IV the caller gives that is not that one is set anew.
      const next = new Uint8Array(12);
      let primed = false;
      const useIv = (iv: Uint8Array) => {
        holds(iv, 12, "GCM IV");
        if (!primed || !sameBytes(iv, next)) {
          if (lib.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IV_FIXED, -1, iv) !== 1) fail("GCM IV");
          next.set(iv);
          primed = true;
        }
        if (lib.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_IV_GEN, 1, scratch) !== 1) fail("GCM IV");
        incrementIv(next);
      };
      // One packet: the IV (and, opening, the expected tag), the AAD, the
      // data in one or more parts, then the final step (false: bad tag).
      const begin = (iv: Uint8Array, aad: Uint8Array, expectedTag?: Uint8Array) => {
        useIv(iv);
        if (expectedTag !== undefined) holds(expectedTag, 16, "GCM tag");
        if (
          expectedTag !== undefined &&
          lib.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, expectedTag) !== 1
        ) {
          fail("GCM tag");
        }
        if (lib.EVP_Cipher(ctx, null, aad, aad.length) < 0) fail("GCM AAD");
      };
      const update = (data: Uint8Array, out: Uint8Array) => {
        holds(out, data.length, "GCM output");
        if (lib.EVP_Cipher(ctx, out, data, data.length) < 0) fail("GCM");
      };
      const finish = () => lib.EVP_Cipher(ctx, null, null, 0) >= 0;
      const sealFinish = (tag: Uint8Array) => {
        holds(tag, 16, "GCM tag");
        if (!finish()) fail("GCM final");
        if (lib.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag) !== 1) fail("GCM tag");
      };
      return owned({
        seal(iv, aad, data, out, tag) {
          begin(iv, aad);
          update(data, out);
          sealFinish(tag);
        },
        open(iv, aad, data, out, tag) {
          begin(iv, aad, tag);
          update(data, out);
          return finish();
        },
        openBegin: begin,
        openUpdate: update,
        openFinish: finish,
        sealBegin: begin,
        sealUpdate: update,
        sealFinish,
        free() {},
      }, () => lib.EVP_CIPHER_CTX_free(ctx));
    },
    chacha20(key) {
      if (key.length !== 32) fail("ChaCha20 key length");
      const ctx = newCtx();
      if (lib.EVP_CipherInit_ex(ctx, lib.EVP_chacha20(), null, key, null, 1) !== 1) {
        lib.EVP_CIPHER_CTX_free(ctx);
        fail("EVP_CipherInit_ex(chacha20)");
      }
      return owned({
        xor(iv, data, out) {
          holds(iv, 16, "ChaCha20 IV");
          holds(out, data.length, "ChaCha20 output");
          if (lib.EVP_CipherInit_ex(ctx, null, null, null, iv, 1) !== 1) fail("ChaCha20 IV");
          if (lib.EVP_CipherUpdate(ctx, out, outLenBytes, data, data.length) !== 1) {
            fail("ChaCha20");
          }
        },
        free() {},
      }, () => lib.EVP_CIPHER_CTX_free(ctx));
    },
    poly1305() {
      const mac = lib.EVP_MAC_fetch(null, new TextEncoder().encode("POLY1305\0"), null);
      if (mac === null) fail("EVP_MAC_fetch(POLY1305)");
      const ctx = lib.EVP_MAC_CTX_new(mac);
      if (ctx === null) {
        lib.EVP_MAC_free(mac);
        fail("EVP_MAC_CTX_new");
      }
      return owned({
        mac(key, a, b, out) {
          holds(out, 16, "Poly1305 tag");
          if (lib.EVP_MAC_init(ctx, key, BigInt(key.length), null) !== 1) fail("Poly1305 key");
          if (lib.EVP_MAC_update(ctx, a, BigInt(a.length)) !== 1) fail("Poly1305");
          if (lib.EVP_MAC_update(ctx, b, BigInt(b.length)) !== 1) fail("Poly1305");
          if (lib.EVP_MAC_final(ctx, out, sizeOutBytes, 16n) !== 1) fail("Poly1305 final");
        },
        free() {},
      }, () => {
        lib.EVP_MAC_CTX_free(ctx);
        lib.EVP_MAC_free(mac);
      });
    },
    ...ctrAndHmac(lib, newCtx, owned, outLenBytes),
  };
}

type Owned = <T extends { free(): void }>(obj: T, release: () => void) => T;

/** aesCtr and hmac, when this libcrypto exports what they need. */
function ctrAndHmac(
  lib: Lib,
  newCtx: () => Deno.PointerObject,
  owned: Owned,
  outLenBytes: Uint8Array,
): Pick<Primitives, "aesCtr" | "hmac"> {
  const {
    EVP_aes_128_ctr,
    EVP_aes_192_ctr,
    EVP_aes_256_ctr,
    EVP_sha1,
    EVP_sha256,
    EVP_sha512,
    HMAC_CTX_new,
    HMAC_CTX_free,
    HMAC_Init_ex,
    HMAC_Update,
    HMAC_Final,
  } = lib;
  if (
    !EVP_aes_128_ctr || !EVP_aes_192_ctr || !EVP_aes_256_ctr || !EVP_sha1 || !EVP_sha256 ||
    !EVP_sha512 || !HMAC_CTX_new || !HMAC_CTX_free || !HMAC_Init_ex || !HMAC_Update || !HMAC_Final
  ) {
    return {};
  }
  const macLen = new Uint32Array(1);
  const macLenBytes = new Uint8Array(macLen.buffer);
  const digests: Record<HmacDigest, { md: () => Deno.PointerValue; size: number }> = {
    sha1: { md: EVP_sha1, size: 20 },
    sha256: { md: EVP_sha256, size: 32 },
    sha512: { md: EVP_sha512, size: 64 },
  };
  return {
    aesCtr(key, iv): AesCtr {
      const type = key.length === 16
        ? EVP_aes_128_ctr()
        : key.length === 24
        ? EVP_aes_192_ctr()
        : key.length === 32
        ? EVP_aes_256_ctr()
        : fail("AES-CTR key length");
      if (iv.length !== 16) fail("AES-CTR IV length");
      const ctx = newCtx();
      if (lib.EVP_CipherInit_ex(ctx, type, null, key, iv, 1) !== 1) {
        lib.EVP_CIPHER_CTX_free(ctx);
        fail("EVP_CipherInit_ex(aes-ctr)");
      }
      return owned({
        xor(data, out) {
          holds(out, data.length, "AES-CTR output");
          if (lib.EVP_CipherUpdate(ctx, out, outLenBytes, data, data.length) !== 1) {
            fail("AES-CTR");
          }
        },
        free() {},
      }, () => lib.EVP_CIPHER_CTX_free(ctx));
    },
    hmac(digest, key): Hmac {
      const { md, size } = digests[digest] ?? fail(`HMAC digest ${digest}`);
      const ctx = HMAC_CTX_new();
      if (ctx === null) fail("HMAC_CTX_new");
      if (HMAC_Init_ex(ctx, key, key.length, md(), null) !== 1) {
        HMAC_CTX_free(ctx);
        fail("HMAC_Init_ex");
      }
      return owned({
        size,
        // The key and digest stay: a NULL key and digest start a new MAC under them.
        begin() {
          if (HMAC_Init_ex(ctx, null, 0, null, null) !== 1) fail("HMAC_Init_ex");
        },
        update(data) {
          if (HMAC_Update(ctx, data, BigInt(data.length)) !== 1) fail("HMAC_Update");
        },
        finish(out) {
          holds(out, size, "HMAC output");
          if (HMAC_Final(ctx, out, macLenBytes) !== 1 || macLen[0] !== size) fail("HMAC_Final");
        },
        free() {},
      }, () => HMAC_CTX_free(ctx));
    },
  };
}

/** Known-answer checks against node:crypto, so a broken library is never used. */
function selfTest(openssl: Primitives): string | null {
  const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  try {
    const key = new Uint8Array(16).map((_, i) => i * 7);
    const iv = new Uint8Array(12).map((_, i) => 100 + i);
    const aad = new Uint8Array([0, 0, 0, 28]);
    const data = new TextEncoder().encode("warren self-test 0123456789");
    const out = new Uint8Array(data.length);
    const tag = new Uint8Array(16);
    const gcm = openssl.aesGcm(key, true);
    gcm.seal(iv, aad, data, out, tag);
    gcm.free();
    const ref = createCipheriv("aes-128-gcm", key, iv);
    ref.setAAD(aad);
    const refOut = Buffer.concat([ref.update(data), ref.final()]);
    if (hex(out) !== hex(refOut) || hex(tag) !== hex(ref.getAuthTag())) return "aes-128-gcm";
    const back = new Uint8Array(data.length);
    const dec = openssl.aesGcm(key, false);
    const good = dec.open(iv, aad, out, back, tag);
    tag[0] ^= 1;
    const bad = dec.open(iv, aad, out, back, tag);
    dec.free();
    if (!good || bad) return "aes-128-gcm tag check";

    const ckey = new Uint8Array(32).map((_, i) => 255 - i);
    const civ = new Uint8Array(16).map((_, i) => (i < 4 ? (i === 0 ? 1 : 0) : i));
    const chacha = openssl.chacha20(ckey);
    chacha.xor(civ, data, out);
    chacha.free();
    const cref = createCipheriv("chacha20", ckey, civ);
    if (hex(out) !== hex(cref.update(data))) return "chacha20";
    cref.final();

    // RFC 8439, 2.5.2.
    const pkey = Uint8Array.from(
      "85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b".match(/../g)!,
      (h) => parseInt(h, 16),
    );
    const msg = new TextEncoder().encode("Cryptographic Forum Research Group");
    const poly = openssl.poly1305();
    poly.mac(pkey, msg.subarray(0, 5), msg.subarray(5), tag);
    poly.free();
    if (hex(tag) !== "a8061dc1305136c6c22b8baf0c0127a9") return "poly1305";
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/**
 * aesCtr and hmac against node:crypto, the keystream carried across calls
 * that end mid-block; when they fail, the library is used without them.
 */
function ctrAndHmacSelfTest(openssl: Primitives): string | null {
  if (!openssl.aesCtr || !openssl.hmac) return null;
  try {
    return ctrAndHmacCheck(openssl.aesCtr, openssl.hmac);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

function ctrAndHmacCheck(
  aesCtr: NonNullable<Primitives["aesCtr"]>,
  hmac: NonNullable<Primitives["hmac"]>,
): string | null {
  const data = new Uint8Array(100).map((_, i) => i * 3);
  for (const keyLen of [16, 24, 32]) {
    const key = new Uint8Array(keyLen).map((_, i) => 200 - i);
    const iv = new Uint8Array(16).map((_, i) => (i === 15 ? 0xfe : i));
    const ctr = aesCtr(key, iv);
    const out = new Uint8Array(data.length);
    ctr.xor(data.subarray(0, 5), out.subarray(0, 5));
    ctr.xor(data.subarray(5, 37), out.subarray(5, 37));
    ctr.xor(data.subarray(37), out.subarray(37));
    ctr.free();
    const ref = createCipheriv(`aes-${keyLen * 8}-ctr`, key, iv);
    const refOut = Buffer.concat([ref.update(data), ref.final()]);
    if (!sameBytes(out, refOut)) return `aes-${keyLen * 8}-ctr`;
  }
  for (const digest of ["sha1", "sha256", "sha512"] as const) {
    const key = new Uint8Array(digest === "sha512" ? 64 : 32).map((_, i) => i);
    const mac = hmac(digest, key);
    const out = new Uint8Array(mac.size);
    for (let round = 0; round < 2; round++) {
      mac.begin();
      mac.update(data.subarray(0, 4));
      mac.update(data.subarray(4));
      mac.finish(out);
      if (!sameBytes(out, createHmac(digest, key).update(data).digest())) {
        mac.free();
        return `hmac-${digest}`;
      }
    }
    mac.free();
  }
  return null;
}
