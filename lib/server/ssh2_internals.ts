/**
 * The places where `warren serve` (and the in-process test server) must reach
 * into ssh2 1.17.0's Server internals, kept here so they are easy to re-check
 * on an upgrade of the pinned version.
 *
 * 1. `keepHalfOpen(channel)`: ssh2's server-side channels close themselves as
 *    soon as their write side ends (`Channel.js` onFinish: `if (this.server)
 *    this.close()`), which cuts the other direction of a half-closed TCP
 *    stream. sshd keeps TCP channels half-open; clearing the flag does that.
 *    The flag has no other effect on a direct-tcpip or forwarded-tcpip channel.
 *
 * 2. `filterChannelOpens(conn, decide)`: ssh2 answers every channel it does
 *    not want with a bare reason code, and `reject()` of an accepted type
 *    always says "connect failed". A server that refuses sessions and
 *    forbidden destinations should say "administratively prohibited" and why
 *    (OpenSSH's ssh prints the text). This wraps the connection's
 *    CHANNEL_OPEN handler: after authentication, `decide` sees each open first
 *    and may refuse it with a reason and a description; otherwise ssh2's own
 *    handler runs as before.
 *
 * 3. `dropConnection(conn)`: ssh2's `end()` sends SSH_MSG_DISCONNECT through
 *    the packet writer, which throws when that writer is what broke (a
 *    compression stream that could not start); then only closing the socket
 *    is left, and ssh2 keeps it in `_sock`.
 *
 * 4. `negotiated(conn)`: the algorithms of the last key exchange, which ssh2
 *    emits to no one on the server side (for the log).
 *
 * 5. `quietAfterClose(conn)`: once a side has sent SSH_MSG_CHANNEL_CLOSE it
 *    must send nothing more on that channel (RFC 4254 §5.3). ssh2 keeps a
 *    channel until the peer's CLOSE arrives and meanwhile still answers its
 *    channel requests (CHANNEL_FAILURE) and may send WINDOW_ADJUST. PuTTY
 *    forgets a channel once both CLOSEs have crossed, and a reply to the
 *    winadj@putty.projects.tartarus.org request it had in flight then kills
 *    the whole session ("Received SSH2_MSG_CHANNEL_FAILURE for nonexistent
 *    channel"). This drops every message for a channel between our CLOSE and
 *    the peer's; a peer waiting for a reply learns from our CLOSE that none
 *    will come.
 *
 * 6. `advertiseSignatureAlgorithms(conn)`: the EXT_INFO ssh2 sends to a
 *    client that asks for it (RFC 8308) lists server-sig-algs with a comma
 *    missing (`sendExtInfo` in lib/protocol/Protocol.js:
 *    "...ecdsa-sha2-nistp521rsa-sha2-512,..."), so rsa-sha2-512 is never
 *    advertised: a client limited to it (paramiko with rsa-sha2-256
 *    disabled) finds no algorithm for an RSA key. This keeps ssh2 from
 *    sending its EXT_INFO (it sends one only when `_kex.remoteExtInfoEnabled`
 *    is set at the end of the first key exchange) and sends a correct one in
 *    its place, at the same point.
 *
 * 7. `acceptKeyProbe(ctx)`: ssh2 answers a publickey probe with
 *    USERAUTH_PK_OK naming the key's type, "ssh-rsa", even when the client
 *    asked about rsa-sha2-256 or rsa-sha2-512; RFC 4252 §7 and RFC 8332 §3
 *    want the algorithm of the request echoed, and asyncssh drops the
 *    connection ("Key mismatch"). ssh2's PKAuthContext sends `ctx.key.algo`,
 *    which it set to the key type, keeping the hash in `ctx.hashAlgo`; this
 *    puts the requested name back before accepting.
 */
import { Buffer } from "node:buffer";
// ssh2 internals; no types.
import protocolUtils from "ssh2/lib/protocol/utils.js";
import type { Connection, PublicKeyAuthContext } from "../ssh/ssh2.ts";

/** SSH_MSG_CHANNEL_OPEN_FAILURE reason codes (RFC 4254 §5.1). */
export const OPEN_FAILURE = {
  ADMINISTRATIVELY_PROHIBITED: 1,
  CONNECT_FAILED: 2,
  UNKNOWN_CHANNEL_TYPE: 3,
  RESOURCE_SHORTAGE: 4,
} as const;

export interface ChannelOpenInfo {
  type: string;
  /** For direct-tcpip: destIP, destPort, srcIP, srcPort. */
  data: Record<string, unknown>;
}

export type OpenRefusal = { reason: number; description: string };

interface Internals {
  authenticated: boolean;
  _chanMgr: { get(id: number): unknown };
  _protocol: {
    // deno-lint-ignore no-explicit-any
    _handlers: Record<string, (p: unknown, ...args: any[]) => void>;
    channelOpenFail(recipient: number, reason: number, description: string): void;
  };
}

/** The per-channel messages a server sends, each taking the peer's channel id first. */
const CHANNEL_MESSAGES = [
  "channelSuccess",
  "channelFailure",
  "channelWindowAdjust",
  "channelData",
  "channelExtData",
  "channelEOF",
] as const;

type Send = (recipient: number, ...rest: unknown[]) => void;

interface CloseInternals {
  _chanMgr: { get(local: number): unknown };
  _protocol: Record<string, unknown> & {
    _handlers: Record<string, (p: unknown, local: number) => void>;
  };
}

/** Let `decide` refuse channel opens with a reason and text (see above). */
export function filterChannelOpens(
  conn: Connection,
  decide: (info: ChannelOpenInfo) => OpenRefusal | undefined,
): void {
  const internals = conn as unknown as Internals;
  const proto = internals._protocol;
  const original = proto?._handlers?.CHANNEL_OPEN;
  if (typeof original !== "function") {
    throw new Error("ssh2 internals changed: no CHANNEL_OPEN handler to wrap");
  }
  proto._handlers.CHANNEL_OPEN = (p, info) => {
    if (internals.authenticated) {
      const refusal = decide({ type: info.type, data: info.data ?? {} });
      if (refusal) {
        proto.channelOpenFail(info.sender, refusal.reason, refusal.description);
        return;
      }
    }
    original(p, info);
  };
}

/** Keep a server-side TCP channel half-open after our side ends (see above). */
export function keepHalfOpen(channel: unknown): void {
  (channel as { server: boolean }).server = false;
}

/** Disconnect `conn`, or close its socket when no DISCONNECT can be sent (see above). */
export function dropConnection(conn: Connection): void {
  try {
    conn.end();
  } catch {
    (conn as unknown as { _sock?: { destroy(): void } })._sock?.destroy();
  }
}

/** One direction's algorithms, as ssh2 records them. */
export interface DirectionAlgorithms {
  cipher: string;
  mac: string;
  compress: string;
}

/** The last key exchange's algorithms: cs = client to server, sc = server to client. */
export function negotiated(
  conn: Connection,
): { cs: DirectionAlgorithms; sc: DirectionAlgorithms } | undefined {
  // deno-lint-ignore no-explicit-any
  return (conn as any)._protocol?._kex?.negotiated ?? undefined;
}

/**
 * The signature algorithms `warren serve` verifies for user keys (the key
 * types of authorized_keys.ts), in OpenSSH's order; not ssh-rsa (SHA-1),
 * which it refuses (auth.ts).
 */
export const SERVER_SIG_ALGS: readonly string[] = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "rsa-sha2-512",
  "rsa-sha2-256",
];

const MSG_EXT_INFO = 7;

interface ProtocolInternals {
  _kex?: { remoteExtInfoEnabled?: boolean };
  _onHandshakeComplete: (...args: unknown[]) => void;
  _packetRW: {
    write: {
      allocStart: number;
      alloc(n: number): Uint8Array;
      finalize(p: Uint8Array): Uint8Array;
    };
  };
}

const { sendPacket } = protocolUtils as unknown as {
  sendPacket(proto: ProtocolInternals, packet: Uint8Array): boolean;
};
if (typeof sendPacket !== "function") {
  throw new Error("ssh2 internals changed: lib/protocol/utils.js has no sendPacket");
}

/** Send a correct server-sig-algs in place of ssh2's (see above). */
export function advertiseSignatureAlgorithms(
  conn: Connection,
  algorithms: readonly string[] = SERVER_SIG_ALGS,
): void {
  const proto = (conn as unknown as { _protocol?: ProtocolInternals })._protocol;
  const complete = proto?._onHandshakeComplete;
  if (typeof complete !== "function" || typeof proto?._packetRW?.write?.alloc !== "function") {
    throw new Error("ssh2 internals changed: no handshake hook to send EXT_INFO from");
  }
  let first = true;
  proto._onHandshakeComplete = (...args: unknown[]) => {
    const kex = proto._kex;
    const send = first && kex?.remoteExtInfoEnabled === true;
    first = false;
    if (send) kex!.remoteExtInfoEnabled = false; // ssh2 sends its own only when this is set
    complete(...args);
    if (send) sendExtInfo(proto, algorithms);
  };
}

function sendExtInfo(proto: ProtocolInternals, algorithms: readonly string[]): void {
  const name = Buffer.from("server-sig-algs");
  const value = Buffer.from(algorithms.join(","));
  const writer = proto._packetRW.write;
  const at = writer.allocStart;
  const packet = writer.alloc(1 + 4 + 4 + name.length + 4 + value.length);
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  packet[at] = MSG_EXT_INFO;
  view.setUint32(at + 1, 1); // one extension
  view.setUint32(at + 5, name.length);
  packet.set(name, at + 9);
  view.setUint32(at + 9 + name.length, value.length);
  packet.set(value, at + 13 + name.length);
  sendPacket(proto, writer.finalize(packet));
}

/** The algorithm name the client used in its publickey request. */
export function requestedKeyAlgorithm(ctx: PublicKeyAuthContext): string {
  if (ctx.key.algo === "ssh-rsa") {
    if (ctx.hashAlgo === "sha256") return "rsa-sha2-256";
    if (ctx.hashAlgo === "sha512") return "rsa-sha2-512";
  }
  return ctx.key.algo;
}

/** Answer a publickey probe with USERAUTH_PK_OK for the algorithm asked about. */
export function acceptKeyProbe(ctx: PublicKeyAuthContext): void {
  ctx.key.algo = requestedKeyAlgorithm(ctx);
  ctx.accept();
}

/** Send nothing on a channel after our CHANNEL_CLOSE until the peer's (see above). */
export function quietAfterClose(conn: Connection): void {
  const internals = conn as unknown as CloseInternals;
  const proto = internals._protocol;
  const onClose = proto?._handlers?.CHANNEL_CLOSE;
  const sends = ["channelClose", ...CHANNEL_MESSAGES].map((name) => proto?.[name]);
  if (typeof onClose !== "function" || !sends.every((f) => typeof f === "function")) {
    throw new Error("ssh2 internals changed: no channel message methods to wrap");
  }
  // The peer's ids of the channels we have closed and it has not.
  const closed = new Set<number>();
  const channelClose = proto.channelClose as Send;
  proto.channelClose = (recipient: number) => {
    closed.add(recipient);
    channelClose.call(proto, recipient);
  };
  for (const name of CHANNEL_MESSAGES) {
    const send = proto[name] as Send;
    proto[name] = (recipient: number, ...rest: unknown[]) => {
      if (!closed.has(recipient)) send.call(proto, recipient, ...rest);
    };
  }
  proto._handlers.CHANNEL_CLOSE = (p, local) => {
    const channel = internals._chanMgr.get(local) as { outgoing?: { id?: number } } | undefined;
    const peerId = typeof channel === "object" ? channel?.outgoing?.id : undefined;
    onClose(p, local);
    // Both CLOSEs have crossed (ssh2 answered with ours if it had not sent
    // it): the peer may use this id for a new channel.
    if (peerId !== undefined) closed.delete(peerId);
  };
}
