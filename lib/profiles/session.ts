/**
 * One connection attempt of a profile's link: its id, state, channel and
 * forward counts and byte counters, as `warren ctl list-connections` shows
 * them.
 */
import type { SshConnection } from "../ssh/connection.ts";
import { Traffic } from "./traffic.ts";

/** Whether an open failure is the server's answer (SSH_MSG_CHANNEL_OPEN_FAILURE). */
export function isRefusal(err: unknown): boolean {
  const cause = err instanceof Error ? err.cause : undefined;
  return typeof (cause as { reason?: unknown } | undefined)?.reason === "number";
}

/** Whether the session's connection is gone, or goes within a second. */
export async function endsSoon(session: Session): Promise<boolean> {
  if (session.state !== "connected" || !session.ssh) return true;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const ended = await Promise.race([
    session.ssh.closed.then(() => true),
    new Promise<boolean>((r) => timer = setTimeout(() => r(false), 1000)),
  ]);
  clearTimeout(timer);
  return ended;
}

export type SessionState = "connecting" | "connected" | "closing";

export interface SessionInfo {
  id: number;
  profile: string;
  /** host:port, and "via PROFILE" for a gateway. */
  host: string;
  /** suspect: connected, but a request went unanswered and the connection is being probed. */
  state: SessionState | "suspect";
  /** Open channels (tunneled connections, jump channels of other profiles). */
  channels: number;
  /** Remote forwards requested on the server. */
  forwards: number;
  /** Payload bytes to and from the server over all channels. */
  sent: number;
  received: number;
  /** ISO time the connection attempt started. */
  since: string;
}

export class Session {
  readonly id: number;
  readonly since = new Date();
  ssh?: SshConnection;
  state: SessionState = "connecting";
  channels = 0;
  forwards = 0;
  /** Channel opens and forward requests sent and not answered yet: not idle either. */
  opening = 0;
  readonly traffic = new Traffic();
  constructor(id: number) {
    this.id = id;
  }
}
