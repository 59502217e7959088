/**
 * SSH zlib compression (zlib@openssh.com, RFC 4253 §6.2 "zlib") for ssh2
 * under Deno.
 *
 * ssh2 1.17 compresses in `lib/protocol/zlib.js` by building node's internal
 * zlib binding itself: `new (createInflate()._handle.constructor)(mode)` and
 * `handle.init(windowBits, level, memLevel, strategy, writeState, callback,
 * dictionary)`, Node's private signature. Deno's binding takes no
 * `writeState` there (it comes with each write), so `init` throws "expected
 * type `v8::data::Function`, got `v8::data::Value`" the moment compression
 * starts: for zlib@openssh.com that is inside USERAUTH_SUCCESS, and every
 * client that asked for compression hung after logging in.
 *
 * SSH compression is one deflate stream per direction for the life of the
 * keys, with a flush after each packet, driven synchronously from ssh2's
 * packet parser and writer. node:zlib's public one-shot functions
 * (`deflateSync`…) start a new stream per call, and its streams are
 * asynchronous, so neither fits. What does: a stream made by the public
 * `createDeflate()`/`createInflate()` (Node and Deno set its native handle up
 * their own way), driven through that handle's `writeSync(flush, in, inOff,
 * inLen, out, outOff, outLen)`, the call node's own `deflateSync` makes.
 * Deno keeps that signature on purpose for npm packages that call it
 * (ext/node/polyfills/zlib.js, setupHandleWriteState). `ZlibStream` does
 * that, with its own error hook, an output cap per packet, and a close.
 *
 * This module replaces ssh2's two exported classes `ZlibPacketReader` and
 * `ZlibPacketWriter` (same interface, same flush as OpenSSH: Z_PARTIAL_FLUSH)
 * before ssh2 loads, as crypto/hook.ts does for ciphers: it must be imported
 * before "ssh2", which `lib/ssh/ssh2.ts` does. `compression_test.ts` fails if
 * ssh2 stops using these classes or the handle stops working, and at start-up
 * a round trip checks the handle: if it fails, `offeredCompression()` offers
 * only "none" rather than a compression that would hang.
 *
 * Offers (`offeredCompression`): a server never offers plain "zlib", which
 * starts before authentication (OpenSSH's sshd dropped it in 7.4 for that
 * reason); a client offers "none" first unless asked to compress, as OpenSSH's
 * ssh does without -C. ssh2 restarts the stream at each key exchange, as
 * RFC 4253 §6.2 says.
 */
import { Buffer } from "node:buffer";
import zlib from "node:zlib";
// ssh2 internals; no types.
import ssh2Zlib from "ssh2/lib/protocol/zlib.js";
// Types only (erased): ssh2.ts imports this module before ssh2 itself.
import type { CompressionAlgorithm } from "./ssh2.ts";

const { Z_PARTIAL_FLUSH, Z_SYNC_FLUSH } = zlib.constants;

/**
 * The most one packet may inflate to. OpenSSH's limit for a whole packet
 * (PACKET_MAX_SIZE); ssh2 itself takes at most 35000 bytes per packet, so
 * only a peer that tries to exhaust memory with a tiny packet gets here.
 */
export const MAX_INFLATED_PACKET = 256 * 1024;

const CHUNK = 64 * 1024;

/** The slice of node's native zlib handle that `writeSync` needs. */
interface NativeHandle {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOff: number,
    inLen: number,
    out: Uint8Array,
    outOff: number,
    outLen: number,
  ): void;
  onerror: (message: string, errno: number) => void;
}

interface EngineInternals {
  _handle: NativeHandle | null;
  _writeState: Uint32Array;
}

/** One direction's deflate or inflate stream, fed one packet at a time. */
export class ZlibStream {
  readonly mode: "deflate" | "inflate";
  #engine: zlib.Deflate | zlib.Inflate | undefined;
  #handle: NativeHandle;
  #state: Uint32Array;
  #out = Buffer.allocUnsafe(CHUNK);
  #error: Error | undefined;

  constructor(mode: "deflate" | "inflate") {
    this.mode = mode;
    const engine = mode === "deflate" ? zlib.createDeflate() : zlib.createInflate();
    const internals = engine as unknown as EngineInternals;
    const handle = internals._handle;
    if (!handle || typeof handle.writeSync !== "function" || !internals._writeState) {
      engine.close();
      throw new Error("node:zlib has no native handle with writeSync");
    }
    // The stream's own handler would destroy the stream and emit 'error'
    // later, on a stream nobody listens to: record it and throw instead.
    handle.onerror = (message: string, errno: number) => {
      this.#error = new Error(`zlib ${mode}: ${message} (${errno})`);
    };
    this.#engine = engine;
    this.#handle = handle;
    this.#state = internals._writeState;
  }

  /**
   * Feed `input` with a flush, returning all the output it produced.
   * `limit` caps the output; more is an error (the stream is then unusable).
   */
  write(input: Uint8Array, limit = Infinity): Buffer {
    if (!this.#engine) throw new Error(`zlib ${this.mode}: stream is closed`);
    if (this.#error) throw this.#error;
    const flush = this.mode === "deflate" ? Z_PARTIAL_FLUSH : Z_SYNC_FLUSH;
    const parts: Buffer[] = [];
    let total = 0;
    let inOff = 0;
    let inLen = input.length;
    while (true) {
      const out = this.#out;
      this.#handle.writeSync(flush, input, inOff, inLen, out, 0, out.length);
      if (this.#error) throw this.#error;
      const availOut = this.#state[0];
      const availIn = this.#state[1];
      const produced = out.length - availOut;
      if (produced > 0) {
        total += produced;
        if (total > limit) {
          this.#error = new Error(`zlib ${this.mode}: a packet inflates to over ${limit} bytes`);
          throw this.#error;
        }
        parts.push(Buffer.from(out.subarray(0, produced)));
      }
      inOff += inLen - availIn;
      inLen = availIn;
      // Room left in the output means zlib has taken all it can and flushed.
      if (availOut !== 0) break;
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, total);
  }

  close(): void {
    const engine = this.#engine;
    this.#engine = undefined;
    engine?.close();
  }
}

/** Where the packet classes get their streams; tests swap `open` to make it fail. */
export const zlibStreams = {
  open: (mode: "deflate" | "inflate"): ZlibStream => new ZlibStream(mode),
};

// ssh2's packet layer, as lib/protocol/zlib.js defines it: a writer's
// finalize() turns a payload into a packet (5 bytes of header room for the
// cipher), a reader's read() turns a payload back.

interface Protocol {
  _kexinit: unknown;
  _cipher: { allocPacket(payloadLength: number): Buffer };
}

/** ssh2's ZlibPacketWriter on ZlibStream. */
class PacketDeflater {
  readonly allocStart = 0;
  readonly allocStartKEX = 0;
  #protocol: Protocol;
  #zlib: ZlibStream | undefined = zlibStreams.open("deflate");

  constructor(protocol: Protocol) {
    this.#protocol = protocol;
  }

  cleanup(): void {
    this.#zlib?.close();
    this.#zlib = undefined;
  }

  alloc(payloadSize: number): Buffer {
    return Buffer.allocUnsafe(payloadSize);
  }

  /** Compress now, unless a key exchange is under way (ssh2 queues the payload). */
  finalize(payload: Buffer, force?: boolean): Buffer {
    if (this.#protocol._kexinit !== undefined && !force) return payload;
    if (!this.#zlib) throw new Error("zlib deflate: stream is closed");
    const compressed = this.#zlib.write(payload);
    const packet = this.#protocol._cipher.allocPacket(compressed.length);
    packet.set(compressed, 5);
    return packet;
  }
}

/** ssh2's ZlibPacketReader on ZlibStream. */
class PacketInflater {
  #zlib: ZlibStream | undefined = zlibStreams.open("inflate");

  cleanup(): void {
    this.#zlib?.close();
    this.#zlib = undefined;
  }

  read(data: Uint8Array): Buffer {
    if (!this.#zlib) throw new Error("zlib inflate: stream is closed");
    return this.#zlib.write(data, MAX_INFLATED_PACKET);
  }
}

interface Ssh2ZlibModule {
  PacketReader: unknown;
  PacketWriter: unknown;
  ZlibPacketReader: unknown;
  ZlibPacketWriter: unknown;
}

const target = ssh2Zlib as unknown as Ssh2ZlibModule;
if (
  typeof target.ZlibPacketReader !== "function" || typeof target.ZlibPacketWriter !== "function" ||
  typeof target.PacketReader !== "function" || typeof target.PacketWriter !== "function"
) {
  throw new Error("ssh2's zlib module no longer exports (Zlib)PacketReader/(Zlib)PacketWriter");
}
const PlainReader = target.PacketReader as new () => object;
const PlainWriter = target.PacketWriter as new (protocol: unknown) => object;

/** Whether an ssh2 protocol hands its payloads on as they were received (no compression). */
export function receivesPlain(protocol: unknown): boolean {
  const rw = (protocol as { _packetRW?: { read?: unknown } } | undefined)?._packetRW;
  return rw?.read instanceof PlainReader;
}

/**
 * Whether an ssh2 protocol would seal a packet it is given now, as it is: no
 * key exchange under way (ssh2 queues packets then) and no compression (the
 * plain packet writer).
 */
export function sealsAtOnce(protocol: unknown): boolean {
  const p = protocol as { _kexinit?: unknown; _packetRW?: { write?: unknown } } | undefined;
  return p !== undefined && p._kexinit === undefined && p._packetRW?.write instanceof PlainWriter;
}
/** ssh2's own classes, for the test that shows they fail under Deno. */
export const originalSsh2Zlib = {
  ZlibPacketReader: target.ZlibPacketReader,
  ZlibPacketWriter: target.ZlibPacketWriter,
} as const;
target.ZlibPacketReader = PacketInflater;
target.ZlibPacketWriter = PacketDeflater;
/** The classes ssh2 now uses, for tests that check a live connection has them. */
export const warrenZlibClasses = { PacketInflater, PacketDeflater } as const;

/** Why compression cannot work in this runtime, or undefined when it can. */
function selfTest(): string | undefined {
  let deflate: ZlibStream | undefined;
  let inflate: ZlibStream | undefined;
  try {
    deflate = new ZlibStream("deflate");
    inflate = new ZlibStream("inflate");
    const text = Buffer.from("warren zlib self-test ".repeat(64));
    for (let i = 0; i < 3; i++) {
      const back = inflate.write(deflate.write(text));
      if (Buffer.compare(back, text) !== 0) return "a round trip changed the data";
    }
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    deflate?.close();
    inflate?.close();
  }
}

/** Why this process offers no compression (undefined: it does). */
export const compressionUnavailable: string | undefined = selfTest();

/**
 * The compression list to give ssh2: the server's offer, or the client's
 * preference (`prefer`: compress when the server agrees, as ssh -C).
 */
export function offeredCompression(
  role: "server" | "client",
  prefer = false,
): CompressionAlgorithm[] {
  if (compressionUnavailable !== undefined) return ["none"];
  if (role === "server") return ["none", "zlib@openssh.com"];
  return prefer ? ["zlib@openssh.com", "zlib", "none"] : ["none", "zlib@openssh.com", "zlib"];
}
