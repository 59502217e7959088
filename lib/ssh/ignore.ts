/**
 * SSH_MSG_IGNORE through ssh2's packet layer; ssh2 1.17 has no method that
 * sends one. Sent only while ssh2 would seal a packet at once (no key
 * exchange under way, no compression), through whatever cipher the
 * connection uses; otherwise not at all. Every SSH implementation must
 * accept and drop it (RFC 4253, 11.2).
 */
import type { Buffer } from "node:buffer";
import { sealsAtOnce } from "./compression.ts";

/** SSH_MSG_IGNORE. */
const IGNORE = 2;

interface ProtocolLike {
  _cipher?: { allocPacket?(payloadLength: number): Buffer; encrypt?(packet: Uint8Array): void };
}

let sent = 0;

/** Send an empty SSH_MSG_IGNORE on ssh2's protocol object; false if it could not go now. */
export function sendIgnore(protocol: unknown): boolean {
  const p = protocol as ProtocolLike | undefined;
  const cipher = p?._cipher;
  if (
    !sealsAtOnce(p) || typeof cipher?.allocPacket !== "function" ||
    typeof cipher.encrypt !== "function"
  ) {
    return false;
  }
  // byte SSH_MSG_IGNORE, string data (empty); the payload starts after the
  // packet's length and padding length.
  const packet = cipher.allocPacket(5);
  packet[5] = IGNORE;
  packet.writeUInt32BE(0, 6);
  cipher.encrypt(packet);
  sent++;
  return true;
}

/** SSH_MSG_IGNORE packets this process sent (for tests). */
export function ignoresSent(): number {
  return sent;
}
