/**
 * The SSH channel window warren advertises for data it receives.
 *
 * A channel can have at most one window of unacknowledged data in flight, so
 * one stream's throughput is capped at window / round-trip time: with ssh2's
 * fixed 2 MiB that is 20 MiB/s at 100 ms. `WARREN_CHANNEL_WINDOW` (bytes, or
 * with a K/M suffix; 64K to 256M) sets it for the process, for every channel
 * warren opens or accepts. It governs the direction towards warren
 * (downloads through -L, uploads through -R); the other direction is capped
 * by the server's window (OpenSSH: 2 MiB).
 *
 * ssh2 1.17 keeps the window in constants of lib/Channel.js that its client
 * and server modules copy when they load, so this module replaces those
 * exports before ssh2 loads (lib/ssh/ssh2.ts imports it first); ssh2's
 * Channel keeps its own copy for the case where a reader catches up after
 * backpressure, which tops the window up to at least 2 MiB and never lowers
 * ours. `window_test.ts` and the OpenSSH test check the advertised size.
 */
// ssh2 internals; no types.
import channelModule from "ssh2/lib/Channel.js";

export const DEFAULT_WINDOW = 2 * 1024 * 1024;
const MIN_WINDOW = 64 * 1024;
const MAX_WINDOW = 256 * 1024 * 1024;

/** Parse "8M", "512K" or bytes; throws a message on anything else. */
export function parseWindow(text: string): number {
  const m = /^(\d+)([KkMm]?)$/.exec(text.trim());
  if (!m) throw new Error(`expected bytes or a size like 8M or 512K`);
  const n = Number(m[1]) * (m[2] === "" ? 1 : m[2].toLowerCase() === "k" ? 1024 : 1024 * 1024);
  if (n < MIN_WINDOW || n > MAX_WINDOW) throw new Error(`must be between 64K and 256M`);
  return n;
}

interface ChannelLike {
  outgoing: { state: string; id: number };
  incoming: { window: number };
  _client: { _protocol: { channelWindowAdjust(id: number, amount: number): void } };
}

const raw = Deno.env.get("WARREN_CHANNEL_WINDOW");
let size = DEFAULT_WINDOW;
/** Why WARREN_CHANNEL_WINDOW was not applied, for main.ts to report. */
export let windowError: string | undefined;
if (raw !== undefined && raw !== "") {
  try {
    size = parseWindow(raw);
  } catch (err) {
    windowError = `Invalid WARREN_CHANNEL_WINDOW '${raw}': ${(err as Error).message}`;
  }
}

/** The window every channel of this process advertises. */
export const channelWindow = size;

if (size !== DEFAULT_WINDOW) {
  const m = channelModule as unknown as Record<string, unknown>;
  if (typeof m.windowAdjust !== "function" || m.MAX_WINDOW !== DEFAULT_WINDOW) {
    throw new Error("ssh2's Channel module no longer has the shape lib/ssh/window.ts expects");
  }
  m.MAX_WINDOW = size;
  m.WINDOW_THRESHOLD = size / 2;
  m.windowAdjust = (ch: ChannelLike) => {
    if (ch.outgoing.state === "closed") return;
    const amount = size - ch.incoming.window;
    if (amount <= 0) return;
    ch.incoming.window += amount;
    ch._client._protocol.channelWindowAdjust(ch.outgoing.id, amount);
  };
}
