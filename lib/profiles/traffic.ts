/**
 * Byte counters for the broker's listings: per connection and per listener.
 * A channel is counted where ssh2 moves its payload: `_write` (to the
 * server: sent) and `push` (from the server: received), and where the SSH
 * transport hands received data straight to a tunnel's buffers instead of
 * pushing it (`pushedPast`). Counting there leaves the stream's flow alone:
 * no extra 'data' listener, no pipe.
 */
import type { Duplex } from "node:stream";
import { pushedPast } from "../ssh/transport.ts";

export class Traffic {
  sent = 0;
  received = 0;
}

type Writer = (chunk: Uint8Array, encoding: string, cb: (err?: Error | null) => void) => void;
type Pusher = (chunk: Uint8Array | null, encoding?: string) => boolean;

/** Add `channel`'s payload bytes to every counter in `into`. */
export function countChannel(channel: Duplex, into: Traffic[]): void {
  if (into.length === 0) return;
  const stream = channel as Duplex & { _write: Writer; push: Pusher };
  const write = stream._write.bind(stream);
  const push = stream.push.bind(stream);
  stream._write = (chunk, encoding, cb) => {
    for (const t of into) t.sent += chunk.length;
    write(chunk, encoding, cb);
  };
  stream.push = (chunk, encoding) => {
    if (chunk) { for (const t of into) t.received += chunk.length; }
    return push(chunk, encoding);
  };
  (stream as Duplex & { [pushedPast]?: (len: number) => void })[pushedPast] = (len) => {
    for (const t of into) t.received += len;
  };
}
