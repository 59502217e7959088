/**
 * SSH binary packet framing (RFC 4253 §6) for the ciphers warren seals
 * itself, in the shape ssh2's transport expects of a cipher (`allocPacket`,
 * `encrypt`, `outSeqno`, `free`) and a decipher (`decrypt(chunk, start, end)`,
 * `inSeqno`, `free`):
 *
 * - aes128-gcm@openssh.com, aes256-gcm@openssh.com (RFC 5647 as OpenSSH does
 *   it: the 4-byte length is plaintext and authenticated as AAD; the IV's
 *   64-bit invocation counter increments per packet);
 * - chacha20-poly1305@openssh.com (OpenSSH's PROTOCOL.chacha20poly1305: the
 *   length is encrypted with the second key half, the body with the first at
 *   block counter 1, and Poly1305 keyed from block 0 covers both);
 * - aes128/192/256-ctr (RFC 4344) with hmac-sha1, hmac-sha2-256 or
 *   hmac-sha2-512 (RFC 4253 §6.4, RFC 6668), and their encrypt-then-MAC
 *   forms (OpenSSH's PROTOCOL: the length stays plaintext, the MAC covers the
 *   ciphertext), where the backend has AES-CTR and HMAC (libcrypto); what
 *   servers without the AEAD ciphers negotiate.
 *
 * Differences from ssh2's own classes, which are why these exist:
 * - a packet is sealed in place in one buffer with room for its tag, and the
 *   socket gets ONE write per packet instead of three or four;
 * - a packet that arrives whole in one socket chunk is opened in place, with
 *   no copy; only packets split across chunks are gathered; the opener tells
 *   the transport's read lease (lib/net/read_lease.ts) which payloads it
 *   handed on from the socket's buffer;
 * - the primitives come from `primitives.ts`: libcrypto when it can be loaded,
 *   else node:crypto with every cipher object finished (no leaked resources).
 */
import { Buffer } from "node:buffer";
import { randomFillSync } from "node:crypto";
import {
  type AesCtr,
  type AesGcm,
  type ChaCha20,
  type Hmac,
  type HmacDigest,
  incrementIv,
  type Poly1305,
  type Primitives,
} from "./primitives.ts";
import {
  type DataSink,
  opened,
  payloadHandled,
  payloadOpening,
  type SinkLookup,
  sinksFor,
} from "../../net/read_lease.ts";

/** ssh2's limit on an incoming packet's length field. */
const MAX_PACKET_SIZE = 35000;
/** SSH_MSG_CHANNEL_DATA; a packet body this large may go to a channel's sink. */
const CHANNEL_DATA = 94;
/** Where a CHANNEL_DATA packet's data starts: length, padding length, type, recipient, data length. */
const DATA_AT = 4 + 1 + 1 + 4 + 4;
const SINK_FROM = 4096;
/** SSH_MSG_CHANNEL_WINDOW_ADJUST. */
const CHANNEL_WINDOW_ADJUST = 93;
/** What `#deliver` returns for a packet whose data went to a sink. */
const SUNK = Symbol("sunk");
/** The AEAD ciphers' tag; the HMACs' is their digest's length (up to 64). */
const TAG = 16;

/** Buffer's own constructor for views: no copy, no validation. */
type BufferView = new (buf: ArrayBuffer, offset: number, length: number) => Buffer;
const FastBuffer = (Buffer as unknown as Record<symbol, BufferView>)[Symbol.species];

/** ssh2's description of a MAC (its MAC_INFO): the digest, its length, the length sent, ETM. */
export interface MacInfo {
  sslName: string;
  len: number;
  actualLen: number;
  isETM: boolean;
}

/** What ssh2's kex code passes to createCipher (the fields warren uses). */
export interface CipherConfig {
  outbound: {
    onWrite(data: Uint8Array): void;
    cipherInfo: { sslName: string };
    cipherKey: Uint8Array;
    cipherIV?: Uint8Array;
    macInfo?: MacInfo;
    macKey?: Uint8Array;
    seqno: number;
  };
}

/** What ssh2's kex code passes to createDecipher (the fields warren uses). */
export interface DecipherConfig {
  inbound: {
    onPayload(payload: Buffer): unknown;
    decipherInfo: { sslName: string };
    decipherKey: Uint8Array;
    decipherIV?: Uint8Array;
    macInfo?: MacInfo;
    macKey?: Uint8Array;
    seqno: number;
  };
}

/** The AEAD cipher names warren seals itself, keyed by ssh2's sslName. */
export const AEAD_SSL_NAMES = new Set(["aes-128-gcm", "aes-256-gcm", "chacha20"]);
/** The counter-mode ciphers warren seals itself where the backend has AES-CTR and HMAC. */
const CTR_SSL_NAMES = new Set(["aes-128-ctr", "aes-192-ctr", "aes-256-ctr"]);
const HMAC_DIGESTS = new Set<string>(["sha1", "sha256", "sha512"] satisfies HmacDigest[]);

/**
 * Whether warren frames this cipher and MAC itself with these primitives:
 * the AEAD ciphers always; aes*-ctr with a whole (not truncated) HMAC-SHA1 or
 * SHA2, ETM or not, where the backend has AES-CTR and HMAC. Anything else is
 * ssh2's own code.
 */
export function framedByWarren(
  cipherSslName: string | undefined,
  mac: MacInfo | undefined,
  p: Primitives,
): boolean {
  if (cipherSslName === undefined) return false;
  if (AEAD_SSL_NAMES.has(cipherSslName)) return true;
  return CTR_SSL_NAMES.has(cipherSslName) && p.aesCtr !== undefined && p.hmac !== undefined &&
    mac !== undefined && HMAC_DIGESTS.has(mac.sslName) && mac.len === mac.actualLen;
}

/** Packets this module allocated carry their sealer's tag length of spare bytes after their end. */
const withTagRoom = new WeakSet<ArrayBufferLike>();

/**
 * Bulk packets (16 KiB and more) are carved one after another out of a
 * 256 KiB slab that belongs to one sealer, so the packets an upload seals in
 * one go lie back to back in memory and the transport writes them with one
 * system call and no copy. Once every packet carved from a slab has been
 * written (the transport says so through recyclePacket), the slab leaves its
 * sealer and waits, with at most SLABS_KEPT others, to carry the next
 * packets of any sealer; an idle connection holds none. A fresh zeroed
 * buffer per packet was a seventh of an upload's CPU (allocation and GC).
 */
const SLAB = 256 * 1024;
const SLAB_FROM = 16 * 1024;
const SLABS_KEPT = 16;

interface Slab {
  buffer: ArrayBuffer;
  /** Bytes carved so far. */
  used: number;
  /** Packets carved and not written yet. */
  outstanding: number;
  /** The sealer that carves from it; undefined once all its packets are written. */
  owner: object | undefined;
}

const slabOf = new WeakMap<ArrayBufferLike, Slab>();
const freeSlabs: Slab[] = [];

function takeSlab(owner: object): Slab {
  const reused = freeSlabs.pop();
  if (reused !== undefined) {
    reused.used = 0;
    reused.owner = owner;
    return reused;
  }
  const slab: Slab = { buffer: new ArrayBuffer(SLAB), used: 0, outstanding: 0, owner };
  slabOf.set(slab.buffer, slab);
  return slab;
}

let windowAdjustListener: (() => void) | undefined;

/**
 * Who hears of a window adjust the peer sends while a socket's read is being
 * parsed (the parse is synchronous: the transport sets it before and clears
 * it after, as it lends its read buffer).
 */
export function setWindowAdjustListener(listener: (() => void) | undefined): void {
  windowAdjustListener = listener;
}

/** A sealed packet was written out: once all of its slab's are, the slab is free. */
export function recyclePacket(packet: Uint8Array): void {
  const slab = slabOf.get(packet.buffer);
  if (slab === undefined || slab.owner === undefined) return;
  if (--slab.outstanding > 0) return;
  slab.owner = undefined;
  if (freeSlabs.length < SLABS_KEPT) freeSlabs.push(slab);
}

/**
 * Small packets (a channel open, EOF and close, a window adjust, a keystroke)
 * are carved one after another out of a shared 16 KiB pool, each with room
 * for its tag, as Node's allocUnsafe carves small Buffers: a fresh
 * ArrayBuffer per packet cost about a microsecond, more than sealing it. A
 * pool is never carved twice; it is collected once none of its packets is
 * referenced. Packets sealed one after another lie back to back, so the
 * transport writes a turn's few small packets as one range, with no copy.
 */
const POOL = 16 * 1024;
const POOLED_UP_TO = 2 * 1024;
const pools = new WeakSet<ArrayBufferLike>();
let pool = new ArrayBuffer(0);
let poolAt = 0;

function carveSmall(pktLen: number, room: number): Buffer {
  if (poolAt + pktLen + room > pool.byteLength) {
    pool = new ArrayBuffer(POOL);
    pools.add(pool);
    poolAt = 0;
  }
  const packet = new FastBuffer(pool, poolAt, pktLen);
  poolAt += pktLen + room;
  return packet;
}

/** Random padding comes from one 4 KiB draw at a time, not one call per packet. */
const RANDOM_POOL = 4096;
let random = new Uint8Array(0);
let randomAt = 0;
function randomPadding(into: Uint8Array, at: number, len: number): void {
  if (randomAt + len > random.length) {
    random = randomFillSync(new Uint8Array(RANDOM_POOL));
    randomAt = 0;
  }
  // A byte loop: padding is 4 to 19 bytes, and a view to copy from would
  // be an allocation per packet.
  for (let i = 0; i < len; i++) into[at + i] = random[randomAt + i];
  randomAt += len;
}

function copy(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

export abstract class PacketSealer {
  outSeqno: number;
  protected readonly onWrite: (data: Uint8Array) => void;
  #dead = false;
  readonly #block: number;
  /** Bytes of tag or MAC after each packet. */
  protected readonly tagLen: number;
  /** Leading bytes left out of the block alignment: the length field, unless it is encrypted too. */
  readonly #unaligned: number;

  /**
   * `lengthEncrypted`: the 4-byte length is encrypted with the rest, so the
   * whole packet, not the part after it, is a multiple of the block (RFC
   * 4253 §6; aes-ctr with an HMAC that is not encrypt-then-MAC).
   */
  constructor(config: CipherConfig, block: number, tagLen = TAG, lengthEncrypted = false) {
    this.outSeqno = config.outbound.seqno;
    this.onWrite = config.outbound.onWrite;
    this.#block = block;
    this.tagLen = tagLen;
    this.#unaligned = lengthEncrypted ? 0 : 4;
  }

  /** The plaintext packet: length, padding length, room for the payload, padding. */
  allocPacket(payloadLen: number): Buffer {
    const block = this.#block;
    let pktLen = 4 + 1 + payloadLen;
    let padLen = block - ((pktLen - this.#unaligned) & (block - 1));
    if (padLen < 4) padLen += block;
    pktLen += padLen;
    // Every byte is written before the packet leaves: length, padding length,
    // the payload (by ssh2), padding here and the tag by seal().
    let packet: Buffer;
    const room = this.tagLen;
    if (pktLen + room >= SLAB_FROM) {
      let slab = this.#slab;
      if (slab === undefined || slab.owner !== this || slab.used + pktLen + room > SLAB) {
        slab = this.#slab = takeSlab(this);
      }
      packet = new FastBuffer(slab.buffer, slab.used, pktLen);
      slab.used += pktLen + room;
      slab.outstanding++;
    } else if (pktLen + room <= POOLED_UP_TO) {
      packet = carveSmall(pktLen, room);
    } else {
      const ab = new ArrayBuffer(pktLen + room);
      withTagRoom.add(ab);
      packet = new FastBuffer(ab, 0, pktLen);
    }
    packet.writeUInt32BE(pktLen - 4, 0);
    packet[4] = padLen;
    randomPadding(packet, 5 + payloadLen, padLen);
    return packet;
  }

  encrypt(packet: Uint8Array): void {
    this.#send(packet);
  }

  /**
   * Seal and send a CHANNEL_DATA packet whose data stays where it lies (an
   * upload's local read buffer) until the cipher reads it: where the cipher
   * can encrypt from one buffer into another, the data is never copied into
   * the packet first.
   */
  channelData(recipient: number, data: Uint8Array): void {
    const packet = this.allocPacket(9 + data.length);
    packet[5] = CHANNEL_DATA;
    packet.writeUInt32BE(recipient, 6);
    packet.writeUInt32BE(data.length, 10);
    this.#send(packet, data);
  }

  /** `data`, if given, is the payload from byte 14 on, not yet in `packet`. */
  #send(packet: Uint8Array, data?: Uint8Array): void {
    if (this.#dead) return;
    // ssh2 seals each packet with the cipher that allocated it, at once (a
    // packet queued during a key exchange is allocated anew), so one of this
    // module's packets has this sealer's tag length of room after it.
    let whole: Uint8Array;
    if (
      (withTagRoom.has(packet.buffer) && packet.byteOffset === 0) || pools.has(packet.buffer) ||
      slabOf.has(packet.buffer)
    ) {
      whole = new FastBuffer(
        packet.buffer as ArrayBuffer,
        packet.byteOffset,
        packet.length + this.tagLen,
      );
    } else {
      whole = Buffer.allocUnsafe(packet.length + this.tagLen);
      whole.set(packet);
    }
    if (data === undefined) this.seal(whole, packet.length);
    else this.sealWith(whole, packet.length, data);
    this.outSeqno = (this.outSeqno + 1) >>> 0;
    this.onWrite(whole);
  }

  free(): void {
    if (this.#dead) return;
    this.#dead = true;
    this.#slab = undefined;
    this.release();
  }

  /** The slab bulk packets are carved from; only while its owner is this sealer. */
  #slab: Slab | undefined;

  /** Encrypt whole[0..len) in place and write the tag at whole[len..len + tagLen). */
  protected abstract seal(whole: Uint8Array, len: number): void;
  /** The same, with whole[14..14 + data.length) still in `data`. This one copies it first. */
  protected sealWith(whole: Uint8Array, len: number, data: Uint8Array): void {
    whole.set(data, DATA_AT);
    this.seal(whole, len);
  }
  protected abstract release(): void;
}

class AesGcmSealer extends PacketSealer {
  readonly #gcm: AesGcm;
  readonly #iv: Uint8Array;

  constructor(config: CipherConfig, p: Primitives) {
    super(config, 16);
    this.#gcm = p.aesGcm(config.outbound.cipherKey, true);
    this.#iv = copy(config.outbound.cipherIV!);
  }

  protected seal(whole: Uint8Array, len: number): void {
    const body = whole.subarray(4, len);
    this.#gcm.seal(this.#iv, whole.subarray(0, 4), body, body, whole.subarray(len, len + TAG));
    incrementIv(this.#iv);
  }

  protected override sealWith(whole: Uint8Array, len: number, data: Uint8Array): void {
    const gcm = this.#gcm;
    if (!gcm.sealBegin || !gcm.sealUpdate || !gcm.sealFinish) {
      return super.sealWith(whole, len, data);
    }
    // [length][padding length][CHANNEL_DATA][recipient][data length][data][padding]
    const end = DATA_AT + data.length;
    gcm.sealBegin(this.#iv, whole.subarray(0, 4));
    incrementIv(this.#iv);
    const head = whole.subarray(4, DATA_AT);
    gcm.sealUpdate(head, head);
    gcm.sealUpdate(data, whole.subarray(DATA_AT, end));
    const padding = whole.subarray(end, len);
    gcm.sealUpdate(padding, padding);
    gcm.sealFinish(whole.subarray(len, len + TAG));
  }

  protected release(): void {
    this.#gcm.free();
  }
}

/** Per-direction ChaCha20-Poly1305 state shared by sealer and opener. */
class ChaChaKeys {
  readonly main: ChaCha20;
  readonly header: ChaCha20;
  readonly poly: Poly1305;
  readonly iv = new Uint8Array(16);
  readonly polyKey = new Uint8Array(32);
  static readonly ZEROS = new Uint8Array(32);

  constructor(key: Uint8Array, p: Primitives) {
    this.main = p.chacha20(key.subarray(0, 32));
    this.header = p.chacha20(key.subarray(32, 64));
    this.poly = p.poly1305();
  }

  /** Set the nonce to the sequence number and derive the Poly1305 key. */
  start(seqno: number): void {
    const iv = this.iv;
    iv[0] = 0;
    iv[12] = seqno >>> 24;
    iv[13] = (seqno >>> 16) & 0xff;
    iv[14] = (seqno >>> 8) & 0xff;
    iv[15] = seqno & 0xff;
    this.main.xor(iv, ChaChaKeys.ZEROS, this.polyKey);
  }

  /** XOR the 4 length bytes (counter 0, header key). */
  length(data: Uint8Array, out: Uint8Array): void {
    this.iv[0] = 0;
    this.header.xor(this.iv, data, out);
  }

  /** XOR the body (counter 1, main key). */
  body(data: Uint8Array, out: Uint8Array): void {
    this.iv[0] = 1;
    this.main.xor(this.iv, data, out);
  }

  free(): void {
    this.main.free();
    this.header.free();
    this.poly.free();
  }
}

class ChaChaPolySealer extends PacketSealer {
  readonly #keys: ChaChaKeys;

  constructor(config: CipherConfig, p: Primitives) {
    super(config, 8);
    this.#keys = new ChaChaKeys(config.outbound.cipherKey, p);
  }

  protected seal(whole: Uint8Array, len: number): void {
    const k = this.#keys;
    k.start(this.outSeqno);
    const head = whole.subarray(0, 4);
    const body = whole.subarray(4, len);
    k.length(head, head);
    k.body(body, body);
    k.poly.mac(k.polyKey, head, body, whole.subarray(len, len + TAG));
  }

  protected release(): void {
    this.#keys.free();
  }
}

export abstract class PacketOpener {
  inSeqno: number;
  /**
   * Public and writable on purpose: during a re-key ssh2 swaps it for its key
   * exchange handler (kex.js assigns `_decipher._onPayload`), as it does
   * `inSeqno` in strict-kex mode.
   */
  _onPayload: (payload: Buffer) => unknown;
  /** The 4 length bytes as received (encrypted for chacha). */
  protected readonly lenBuf = new Uint8Array(4);
  #lenPos = 0;
  /** Body length from the length field; valid once #lenPos === 4. */
  #len = 0;
  /** Body plus tag, gathered when a packet spans chunks. */
  #pending: Buffer | null = null;
  #pendingPos = 0;
  /**
   * A gathering buffer to use again: one whose packet went to a sink, so no
   * view of it was handed on (a packet spans the socket's reads about once
   * per read in a bulk transfer).
   */
  #spare: Buffer | null = null;
  readonly #tagCheck: Uint8Array;
  /** Bytes of tag or MAC after each packet. */
  readonly #tagLen: number;

  /** The connection's usual payload handler (not a key exchange's). */
  readonly #usual: (payload: Buffer) => unknown;

  constructor(config: DecipherConfig, tagLen = TAG) {
    this.inSeqno = config.inbound.seqno;
    this._onPayload = this.#usual = config.inbound.onPayload;
    this.#tagLen = tagLen;
    this.#tagCheck = new Uint8Array(tagLen);
  }

  decrypt(data: Buffer, p: number, end: number): number | undefined {
    opened(data, p);
    while (p < end) {
      if (this.#lenPos === 0 && end - p >= 4) {
        this.lenBuf.set(data.subarray(p, p + 4));
        this.#len = this.bodyLength(this.lenBuf);
        const total = 4 + this.#len + this.#tagLen;
        if (end - p >= total) {
          // The whole packet is in this chunk: open it where it lies.
          const body = data.subarray(p + 4, p + 4 + this.#len);
          const tag = data.subarray(p + 4 + this.#len, p + total);
          p += total;
          const ret = this.#deliver(body, tag);
          if (ret !== undefined && ret !== SUNK) return ret === false ? p : ret as number;
          continue;
        }
        this.#lenPos = 4;
        p += 4;
        this.#gather();
      } else if (this.#lenPos < 4) {
        while (this.#lenPos < 4 && p < end) this.lenBuf[this.#lenPos++] = data[p++];
        if (this.#lenPos < 4) return undefined;
        this.#len = this.bodyLength(this.lenBuf);
        this.#gather();
      }
      const pending = this.#pending!;
      const size = this.#len + this.#tagLen;
      const nb = Math.min(size - this.#pendingPos, end - p);
      pending.set(data.subarray(p, p + nb), this.#pendingPos);
      this.#pendingPos += nb;
      p += nb;
      if (this.#pendingPos < size) return undefined;
      this.#lenPos = 0;
      this.#pending = null;
      // The packet ends in this chunk, so the chunk's connection is its own:
      // the sinks lent with the chunk serve it too.
      const ret = this.#deliver(
        pending.subarray(0, this.#len),
        pending.subarray(this.#len, this.#len + this.#tagLen),
        sinksFor(data),
      );
      if (ret === SUNK) this.#spare = pending;
      else if (ret !== undefined) return ret === false ? p : ret as number;
    }
    return undefined;
  }

  /** Start gathering a packet of `#len` body bytes that spans chunks. */
  #gather(): void {
    const size = this.#len + this.#tagLen;
    const spare = this.#spare;
    this.#spare = null;
    this.#pending = spare !== null && spare.length >= size
      ? spare
      : Buffer.allocUnsafe(Math.max(size, spare?.length ?? 0));
    this.#pendingPos = 0;
  }

  #deliver(body: Uint8Array, tag: Uint8Array, sinkLookup = sinksFor(body)): unknown {
    this.#tagCheck.set(tag);
    // Channel data for a channel with a sink, outside a key exchange: the
    // data is decrypted straight into the sink and ssh2 never sees it.
    const sinks = this._onPayload === this.#usual ? sinkLookup : undefined;
    if (sinks !== undefined && body.length >= SINK_FROM) {
      if (this.openToSink(body, this.#tagCheck, sinks)) {
        this.inSeqno = (this.inSeqno + 1) >>> 0;
        return SUNK;
      }
    } else if (!this.open(body, this.#tagCheck)) throw new Error("Invalid MAC");
    const padLen = body[0];
    if (padLen + 1 > body.length) throw new Error("Bad packet padding");
    const payload = new FastBuffer(
      body.buffer as ArrayBuffer,
      body.byteOffset + 1,
      body.length - padLen - 1,
    );
    this.inSeqno = (this.inSeqno + 1) >>> 0;
    if (payload[0] === CHANNEL_WINDOW_ADJUST) windowAdjustListener?.();
    if (!payloadOpening(payload)) return this._onPayload(payload);
    const ret = this._onPayload(payload);
    payloadHandled();
    return ret;
  }

  /**
   * Open the body; if it is CHANNEL_DATA for a channel with a sink that has
   * room, its data goes to the sink (true), else the body is opened in place
   * (false). Throws on a bad tag. This default always opens in place.
   */
  protected openToSink(body: Uint8Array, tag: Uint8Array, _sinks: SinkLookup): boolean {
    if (!this.open(body, tag)) throw new Error("Invalid MAC");
    return false;
  }

  /**
   * The body length from the length field (lenBuf, the 4 bytes as received);
   * throws on a bad one. Called once per packet, before open().
   */
  protected abstract bodyLength(lenBuf: Uint8Array): number;
  /** Authenticate and decrypt the body in place (length bytes in lenBuf). */
  protected abstract open(body: Uint8Array, tag: Uint8Array): boolean;
  abstract free(): void;
}

function readLength(b: Uint8Array): number {
  return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
}

class AesGcmOpener extends PacketOpener {
  readonly #gcm: AesGcm;
  readonly #iv: Uint8Array;

  constructor(config: DecipherConfig, p: Primitives) {
    super(config);
    this.#gcm = p.aesGcm(config.inbound.decipherKey, false);
    this.#iv = copy(config.inbound.decipherIV!);
  }

  protected bodyLength(lenBuf: Uint8Array): number {
    const len = readLength(lenBuf);
    if (len + 20 > MAX_PACKET_SIZE || len < 16 || (len & 15) !== 0) {
      throw new Error("Bad packet length");
    }
    return len;
  }

  protected open(body: Uint8Array, tag: Uint8Array): boolean {
    const ok = this.#gcm.open(this.#iv, this.lenBuf, body, body, tag);
    incrementIv(this.#iv);
    return ok;
  }

  /**
   * GCM decrypts in steps: the first block in place tells the message, its
   * channel and the data's length; the data then goes straight into the
   * channel's sink, the padding in place. The sink hears of it only once the
   * tag has checked out.
   */
  protected override openToSink(body: Uint8Array, tag: Uint8Array, sinks: SinkLookup): boolean {
    const gcm = this.#gcm;
    if (!gcm.openBegin || !gcm.openUpdate || !gcm.openFinish) {
      return super.openToSink(body, tag, sinks);
    }
    gcm.openBegin(this.#iv, this.lenBuf, tag);
    incrementIv(this.#iv);
    // [padding length][CHANNEL_DATA][recipient][data length][data][padding]
    const head = body.subarray(0, 16);
    gcm.openUpdate(head, head);
    const dataLen = readLength(head.subarray(6, 10));
    let sink: DataSink | undefined;
    let into: Uint8Array | undefined;
    if (head[1] === CHANNEL_DATA && dataLen >= 6 && 10 + dataLen + head[0] === body.length) {
      sink = sinks(readLength(head.subarray(2, 6)));
      into = sink?.room(dataLen);
    }
    if (sink === undefined || into === undefined) {
      const rest = body.subarray(16);
      gcm.openUpdate(rest, rest);
      if (!gcm.openFinish()) throw new Error("Invalid MAC");
      return false;
    }
    into.set(head.subarray(10, 16));
    gcm.openUpdate(body.subarray(16, 10 + dataLen), into.subarray(6));
    const padding = body.subarray(10 + dataLen);
    gcm.openUpdate(padding, padding);
    if (!gcm.openFinish()) throw new Error("Invalid MAC");
    sink.commit(dataLen);
    return true;
  }

  free(): void {
    this.#gcm.free();
  }
}

class ChaChaPolyOpener extends PacketOpener {
  readonly #keys: ChaChaKeys;
  readonly #plainLen = new Uint8Array(4);
  readonly #mac = new Uint8Array(TAG);

  constructor(config: DecipherConfig, p: Primitives) {
    super(config);
    this.#keys = new ChaChaKeys(config.inbound.decipherKey, p);
  }

  protected bodyLength(lenBuf: Uint8Array): number {
    const k = this.#keys;
    k.start(this.inSeqno);
    k.length(lenBuf, this.#plainLen);
    const len = readLength(this.#plainLen);
    if (len > MAX_PACKET_SIZE || len < 8 || (len & 7) !== 0) {
      throw new Error("Bad packet length");
    }
    return len;
  }

  protected open(body: Uint8Array, tag: Uint8Array): boolean {
    const k = this.#keys;
    // bodyLength() ran start() for this sequence number already.
    k.poly.mac(k.polyKey, this.lenBuf, body, this.#mac);
    if (!equal(this.#mac, tag)) return false;
    k.body(body, body);
    return true;
  }

  free(): void {
    this.#keys.free();
  }
}

/** Constant-time comparison of two tags of a's length. */
function equal(a: Uint8Array, b: Uint8Array): boolean {
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** A sealer for a cipher (and MAC) framedByWarren() accepts. */
export function createSealer(config: CipherConfig, p: Primitives): PacketSealer {
  const name = config.outbound.cipherInfo.sslName;
  return name === "chacha20"
    ? new ChaChaPolySealer(config, p)
    : CTR_SSL_NAMES.has(name)
    ? new CtrHmacSealer(config, p)
    : new AesGcmSealer(config, p);
}

/** An opener for a cipher (and MAC) framedByWarren() accepts. */
export function createOpener(config: DecipherConfig, p: Primitives): PacketOpener {
  const name = config.inbound.decipherInfo.sslName;
  return name === "chacha20"
    ? new ChaChaPolyOpener(config, p)
    : CTR_SSL_NAMES.has(name)
    ? new CtrHmacOpener(config, p)
    : new AesGcmOpener(config, p);
}

/** One direction's AES-CTR keystream and HMAC, from ssh2's key exchange. */
class CtrHmacKeys {
  readonly ctr: AesCtr;
  readonly mac: Hmac;
  readonly etm: boolean;
  /** The packet's sequence number, which the MAC covers first. */
  readonly #seq = new Uint8Array(4);

  constructor(
    p: Primitives,
    key: Uint8Array,
    iv: Uint8Array | undefined,
    macInfo: MacInfo | undefined,
    macKey: Uint8Array | undefined,
  ) {
    if (!p.aesCtr || !p.hmac || !iv || !macInfo || !macKey) {
      throw new Error(`aes-ctr: no ${!p.aesCtr || !p.hmac ? "AES-CTR or HMAC" : "IV or MAC key"}`);
    }
    this.ctr = p.aesCtr(key, iv);
    this.mac = p.hmac(macInfo.sslName as HmacDigest, macKey);
    this.etm = macInfo.isETM;
  }

  /** Start the MAC of packet `seqno`. */
  begin(seqno: number): void {
    const seq = this.#seq;
    seq[0] = seqno >>> 24;
    seq[1] = (seqno >>> 16) & 0xff;
    seq[2] = (seqno >>> 8) & 0xff;
    seq[3] = seqno & 0xff;
    this.mac.begin();
    this.mac.update(seq);
  }

  free(): void {
    this.ctr.free();
    this.mac.free();
  }
}

/**
 * aes*-ctr with an HMAC. Encrypt-and-MAC (RFC 4253): the MAC covers the
 * sequence number and the plaintext packet, length included, and the whole
 * packet is encrypted. Encrypt-then-MAC (OpenSSH's -etm): the length stays
 * plaintext, the rest is encrypted, and the MAC covers the sequence number,
 * the length and the ciphertext. The keystream runs on from packet to packet.
 */
class CtrHmacSealer extends PacketSealer {
  readonly #keys: CtrHmacKeys;

  constructor(config: CipherConfig, p: Primitives) {
    const o = config.outbound;
    const keys = new CtrHmacKeys(p, o.cipherKey, o.cipherIV, o.macInfo, o.macKey);
    super(config, 16, keys.mac.size, !keys.etm);
    this.#keys = keys;
  }

  protected seal(whole: Uint8Array, len: number): void {
    const k = this.#keys;
    const packet = whole.subarray(0, len);
    const tag = whole.subarray(len, len + this.tagLen);
    k.begin(this.outSeqno);
    if (k.etm) {
      const rest = packet.subarray(4);
      k.ctr.xor(rest, rest);
      k.mac.update(packet);
    } else {
      k.mac.update(packet);
      k.ctr.xor(packet, packet);
    }
    k.mac.finish(tag);
  }

  protected override sealWith(whole: Uint8Array, len: number, data: Uint8Array): void {
    // [length][padding length][CHANNEL_DATA][recipient][data length][data][padding]
    const k = this.#keys;
    const end = DATA_AT + data.length;
    const into = whole.subarray(DATA_AT, end);
    const padding = whole.subarray(end, len);
    const tag = whole.subarray(len, len + this.tagLen);
    k.begin(this.outSeqno);
    if (k.etm) {
      const head = whole.subarray(4, DATA_AT);
      k.ctr.xor(head, head);
      k.ctr.xor(data, into);
      k.ctr.xor(padding, padding);
      k.mac.update(whole.subarray(0, len));
    } else {
      // The MAC takes each part as plaintext, before it is encrypted.
      const head = whole.subarray(0, DATA_AT);
      k.mac.update(head);
      k.ctr.xor(head, head);
      k.mac.update(data);
      k.ctr.xor(data, into);
      k.mac.update(padding);
      k.ctr.xor(padding, padding);
    }
    k.mac.finish(tag);
  }

  protected release(): void {
    this.#keys.free();
  }
}

class CtrHmacOpener extends PacketOpener {
  readonly #keys: CtrHmacKeys;
  readonly #mac: Uint8Array;

  constructor(config: DecipherConfig, p: Primitives) {
    const i = config.inbound;
    const keys = new CtrHmacKeys(p, i.decipherKey, i.decipherIV, i.macInfo, i.macKey);
    super(config, keys.mac.size);
    this.#keys = keys;
    this.#mac = new Uint8Array(keys.mac.size);
  }

  protected bodyLength(lenBuf: Uint8Array): number {
    const k = this.#keys;
    // Encrypt-and-MAC: the length is the keystream's first 4 bytes of the
    // packet; lenBuf keeps it decrypted, for the MAC.
    if (!k.etm) k.ctr.xor(lenBuf, lenBuf);
    const len = readLength(lenBuf);
    const aligned = k.etm ? len : len + 4;
    if (len > MAX_PACKET_SIZE || len < 12 || (aligned & 15) !== 0) {
      throw new Error("Bad packet length");
    }
    return len;
  }

  protected open(body: Uint8Array, tag: Uint8Array): boolean {
    if (!this.#start(body, tag)) return false;
    this.#decrypt(body, body);
    return this.#macMatches(tag);
  }

  /**
   * Start the packet's MAC with its sequence number and length; an
   * encrypt-then-MAC MAC is checked here, over the ciphertext (false: it
   * does not match).
   */
  #start(body: Uint8Array, tag: Uint8Array): boolean {
    const k = this.#keys;
    k.begin(this.inSeqno);
    k.mac.update(this.lenBuf);
    if (!k.etm) return true;
    k.mac.update(body);
    k.mac.finish(this.#mac);
    return equal(this.#mac, tag);
  }

  /** Decrypt a part of the body into `to`; an encrypt-and-MAC MAC takes the plaintext. */
  #decrypt(from: Uint8Array, to: Uint8Array): void {
    const k = this.#keys;
    k.ctr.xor(from, to);
    if (!k.etm) k.mac.update(to);
  }

  /** An encrypt-and-MAC MAC, once the whole body is decrypted (an encrypt-then-MAC one matched in #start). */
  #macMatches(tag: Uint8Array): boolean {
    if (this.#keys.etm) return true;
    this.#keys.mac.finish(this.#mac);
    return equal(this.#mac, tag);
  }

  /**
   * The first 10 bytes of the body tell the message, its channel and the
   * data's length; the data is then decrypted straight into the channel's
   * sink, which hears of it only once the MAC has checked out (first, for
   * encrypt-then-MAC; over the plaintext as it is decrypted, otherwise).
   */
  protected override openToSink(body: Uint8Array, tag: Uint8Array, sinks: SinkLookup): boolean {
    if (!this.#start(body, tag)) throw new Error("Invalid MAC");
    // [padding length][CHANNEL_DATA][recipient][data length][data][padding]
    const head = body.subarray(0, 10);
    this.#decrypt(head, head);
    const dataLen = readLength(head.subarray(6, 10));
    let sink: DataSink | undefined;
    let into: Uint8Array | undefined;
    if (head[1] === CHANNEL_DATA && 10 + dataLen + head[0] === body.length) {
      sink = sinks(readLength(head.subarray(2, 6)));
      into = sink?.room(dataLen);
    }
    if (sink === undefined || into === undefined) {
      this.#decrypt(body.subarray(10), body.subarray(10));
      if (!this.#macMatches(tag)) throw new Error("Invalid MAC");
      return false;
    }
    this.#decrypt(body.subarray(10, 10 + dataLen), into);
    const padding = body.subarray(10 + dataLen);
    this.#decrypt(padding, padding);
    if (!this.#macMatches(tag)) throw new Error("Invalid MAC");
    sink.commit(dataLen);
    return true;
  }

  free(): void {
    this.#keys.free();
  }
}
