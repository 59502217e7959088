/**
 * ssh2's `Protocol.channelData()` with the data sealed where it lies.
 *
 * ssh2 1.17 builds a CHANNEL_DATA packet by copying the data into a fresh
 * packet and then encrypting the packet in place: an upload's every byte is
 * copied once before it is sealed. warren's packet sealer (`channelData` in
 * `crypto/ciphers.ts`) writes the packet's header itself and, with AES-GCM
 * through libcrypto, encrypts the data straight from the local socket's read
 * buffer into the packet. The replacement takes that way only when ssh2
 * would have encrypted the packet at once: warren's sealer in place, no key
 * exchange under way (ssh2 queues packets then), no compression (the
 * plain packet writer) and no debug output; anything else is ssh2's own
 * code. `channel_data_test.ts` fails if ssh2's method no longer looks like
 * the one replaced here.
 */
// ssh2 internals; no types.
import protocolModule from "ssh2/lib/protocol/Protocol.js";
import { Buffer } from "node:buffer";
import { sealsAtOnce } from "./compression.ts";

interface DataSealer {
  channelData(recipient: number, data: Uint8Array): void;
}

interface ProtocolLike {
  _debug: unknown;
  _cipher: Partial<DataSealer>;
  channelData(chan: number, data: Uint8Array | string): void;
}

const proto = (protocolModule as unknown as { prototype: ProtocolLike }).prototype;

/** ssh2's own channelData(), for the test. */
export const originalChannelData = proto.channelData;

/** ssh2 1.17's channelData(), whitespace aside; anything else is left alone. */
export const EXPECTED_SOURCE = [
  "channelData(chan, data) {",
  "const isBuffer = Buffer.isBuffer(data);",
  "const dataLen = (isBuffer ? data.length : Buffer.byteLength(data));",
  "let p = this._packetRW.write.allocStart;",
  "const packet = this._packetRW.write.alloc(1 + 4 + 4 + dataLen);",
  "packet[p] = MESSAGE.CHANNEL_DATA;",
  "writeUInt32BE(packet, chan, ++p);",
  "writeUInt32BE(packet, dataLen, p += 4);",
  "if (isBuffer)",
  "packet.set(data, p += 4);",
  "else",
  "packet.utf8Write(data, p += 4, dataLen);",
  "this._debug && this._debug(",
  "`Outbound: Sending CHANNEL_DATA (r:${chan}, ${dataLen})`",
  ");",
  "sendPacket(this, this._packetRW.write.finalize(packet));",
  "}",
].join(" ");

const squeeze = (s: string) => s.replace(/\s+/g, " ").trim();

/** Whether the replacement is in place. */
export const channelDataPatched = squeeze(String(originalChannelData)) === EXPECTED_SOURCE;

let sealedCount = 0;

/** CHANNEL_DATA packets this process sent through warren's sealer (for tests). */
export function channelDataSealed(): number {
  return sealedCount;
}

if (channelDataPatched) {
  proto.channelData = function (this: ProtocolLike, chan: number, data: Uint8Array | string) {
    const cipher = this._cipher;
    if (
      !this._debug && Buffer.isBuffer(data) && typeof cipher.channelData === "function" &&
      sealsAtOnce(this)
    ) {
      cipher.channelData(chan, data);
      sealedCount++;
      return;
    }
    return originalChannelData.call(this, chan, data);
  };
}
