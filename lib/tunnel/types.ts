/**
 * The small interfaces the tunnel engine is built from.
 *
 * - A `Tunnel` is one -L or -R: it starts (binds or asks the server to bind)
 *   and closes, taking its live connections down with it.
 * - `Activity` hears about every tunneled connection, so the runner can
 *   implement one-shot mode and report totals.
 * - A `ChannelOpener` opens a stream to a destination through the SSH
 *   connection (direct-tcpip); SOCKS and FTP handlers will use the same one.
 */
import type { Duplex } from "node:stream";

export interface Activity {
  opened(): void;
  closed(): void;
}

export interface Tunnel {
  /** "-L 127.0.0.1:8080 -> db:5432", for logs and errors. */
  readonly description: string;
  /** Bind/request the listener; throws a WarrenError("bind") on failure. */
  start(): Promise<void>;
  /** Stop accepting and end every live connection of this tunnel. */
  close(): Promise<void>;
}

export type ChannelOpener = (
  srcHost: string,
  srcPort: number,
  dstHost: string,
  dstPort: number,
) => Promise<Duplex>;
