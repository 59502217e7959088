/**
 * The pure path: the same primitives as `openssl.ts`, built on node:crypto
 * (AES-GCM, ChaCha20) and the WebAssembly Poly1305 that ships with ssh2.
 * Always available; used where libcrypto 3 cannot be loaded.
 *
 * Every node:crypto cipher object is finished with `final()`: under Deno an
 * unfinished one keeps a native resource alive (ssh2's own ChaCha20 code never
 * calls it, which is why warren does not use that code).
 */
import { Buffer } from "node:buffer";
import { createCipheriv, createDecipheriv } from "node:crypto";
// ssh2's Emscripten build of poly1305-donna; no types.
import createPoly1305 from "ssh2/lib/protocol/crypto/poly1305.js";
import type { AesGcm, ChaCha20, Poly1305, Primitives } from "./primitives.ts";

interface PolyModule {
  HEAPU8: Uint8Array;
  _malloc(n: number): number;
  _poly1305_auth(
    out: number,
    m1: number,
    m1len: number,
    m2: number,
    m2len: number,
    key: number,
  ): void;
}

/** Larger than any SSH packet warren accepts (ssh2's limit is 35000). */
const MAX_INPUT = 36 * 1024;

let polyModule: Promise<PolyModule> | undefined;

export async function loadBuiltin(): Promise<Primitives> {
  polyModule ??= (createPoly1305 as () => Promise<PolyModule>)();
  const mod = await polyModule;
  // One scratch area for all Poly1305 calls: key, tag, and the two inputs.
  const keyPtr = mod._malloc(32);
  const outPtr = mod._malloc(16);
  const inPtr = mod._malloc(MAX_INPUT);
  const poly: Poly1305 = {
    mac(key, a, b, out) {
      if (a.length + b.length > MAX_INPUT) throw new Error("Poly1305 input too long");
      const heap = mod.HEAPU8;
      heap.set(key, keyPtr);
      heap.set(a, inPtr);
      heap.set(b, inPtr + a.length);
      mod._poly1305_auth(outPtr, inPtr, a.length, inPtr + a.length, b.length, keyPtr);
      out.set(mod.HEAPU8.subarray(outPtr, outPtr + 16));
    },
    free() {},
  };
  return {
    name: "builtin",
    description: "node:crypto and ssh2's WebAssembly Poly1305",
    aesGcm: (key, encrypt) => aesGcm(key, encrypt),
    chacha20: (key) => chacha20(key),
    poly1305: () => poly,
  };
}

// Keys are copied: the caller's buffers are ssh2's, which may reuse them.
function aesGcm(keyIn: Uint8Array, encrypt: boolean): AesGcm {
  const key = new Uint8Array(keyIn);
  const name = key.length === 16 ? "aes-128-gcm" : "aes-256-gcm";
  return {
    seal(iv, aad, data, out, tag) {
      if (!encrypt) throw new Error("AES-GCM context is for decryption");
      const c = createCipheriv(name, key, iv);
      c.setAAD(aad);
      out.set(c.update(data));
      c.final();
      tag.set(c.getAuthTag());
    },
    open(iv, aad, data, out, tag) {
      if (encrypt) throw new Error("AES-GCM context is for encryption");
      const d = createDecipheriv(name, key, iv);
      d.setAAD(aad);
      d.setAuthTag(Buffer.from(tag.buffer, tag.byteOffset, 16));
      out.set(d.update(data));
      try {
        d.final();
        return true;
      } catch {
        return false;
      }
    },
    free() {},
  };
}

function chacha20(keyIn: Uint8Array): ChaCha20 {
  const key = new Uint8Array(keyIn);
  return {
    xor(iv, data, out) {
      const c = createCipheriv("chacha20", key, iv);
      out.set(c.update(data));
      c.final();
    },
    free() {},
  };
}
