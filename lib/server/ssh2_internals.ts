/**
 * Three places where `warren serve` (and the in-process test server) must reach
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
 * 3. `quietAfterClose(conn)`: once a side has sent SSH_MSG_CHANNEL_CLOSE it
 *    must send nothing more on that channel (RFC 4254 §5.3). ssh2 keeps a
 *    channel until the peer's CLOSE arrives and meanwhile still answers its
 *    channel requests (CHANNEL_FAILURE) and may send WINDOW_ADJUST. PuTTY
 *    forgets a channel once both CLOSEs have crossed, and a reply to the
 *    winadj@putty.projects.tartarus.org request it had in flight then kills
 *    the whole session ("Received SSH2_MSG_CHANNEL_FAILURE for nonexistent
 *    channel"). This drops every message for a channel between our CLOSE and
 *    the peer's; a peer waiting for a reply learns from our CLOSE that none
 *    will come.
 */
import type { Connection } from "../ssh/ssh2.ts";

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
  _protocol: {
    _handlers: Record<string, (p: unknown, info: ChannelOpenInfo & { sender: number }) => void>;
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
