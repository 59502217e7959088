/**
 * Two places where `warren serve` (and the in-process test server) must reach
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
 * 5. `noRepliesAfterClose(conn)`: ssh2 answers a channel request on a TCP
 *    channel (PuTTY asks "winadj@putty.projects.tartarus.org" with each
 *    window adjust) with CHANNEL_FAILURE even after it has sent
 *    CHANNEL_CLOSE for that channel, which RFC 4254 §5.3 forbids; PuTTY has
 *    freed the channel by then and ends the whole session with "Received
 *    SSH2_MSG_CHANNEL_FAILURE for nonexistent channel". Requests on a
 *    channel we are closing get no answer, as in OpenSSH.
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
  _chanMgr: { get(id: number): unknown };
  _protocol: {
    // deno-lint-ignore no-explicit-any
    _handlers: Record<string, (p: unknown, ...args: any[]) => void>;
    channelOpenFail(recipient: number, reason: number, description: string): void;
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

/** Leave channel requests on a channel we have closed unanswered (see above). */
export function noRepliesAfterClose(conn: Connection): void {
  const internals = conn as unknown as Internals;
  const proto = internals._protocol;
  const original = proto?._handlers?.CHANNEL_REQUEST;
  if (typeof original !== "function" || typeof internals._chanMgr?.get !== "function") {
    throw new Error("ssh2 internals changed: no CHANNEL_REQUEST handler to wrap");
  }
  proto._handlers.CHANNEL_REQUEST = (p, recipient: number, ...rest: unknown[]) => {
    const channel = internals._chanMgr.get(recipient) as
      | { outgoing?: { state?: string } }
      | undefined;
    const state = channel?.outgoing?.state;
    if (state === "closing" || state === "closed") return;
    original(p, recipient, ...rest);
  };
}
