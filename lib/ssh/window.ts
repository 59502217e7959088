/**
 * The SSH channel windows warren advertises for data it receives.
 *
 * A channel can have at most one window of unacknowledged data in flight, so
 * one stream's throughput is capped at window / round-trip time: with ssh2's
 * fixed 2 MiB that is 20 MiB/s at 100 ms. Two changes to ssh2's behaviour
 * (the policy itself is in window_tuner.ts):
 *
 * - Eager adjusts, as OpenSSH: a window is topped up once three packets are
 *   consumed, not once half of it is.
 * - Growth: a channel whose reader keeps up and whose sender is
 *   window-limited (measured with one ping per round trip) doubles its
 *   window (on a long link, one whose idle round trip is 10 ms or more, it
 *   goes at once to its share of the connection's growth), up to 16 MiB
 *   per channel, 16 MiB of growth for the channels of one connection
 *   together and 256 MiB for the whole process; a reader
 *   that falls a whole window behind halves it, down to 2 MiB. A channel
 *   buffers at most twice its window.
 *
 * `WARREN_CHANNEL_WINDOW` (bytes, or with a K/M suffix; 64K to 256M) fixes
 * the window at that size instead, for every channel, with no growth. It
 * governs the direction towards warren (downloads through -L, uploads
 * through -R and into `warren serve`); the other direction is capped by the
 * peer's window (OpenSSH: 2 MiB).
 *
 * ssh2 1.17 keeps the window in constants of lib/Channel.js that its client
 * and server modules copy when they load, so this module replaces those
 * exports before ssh2 loads (lib/ssh/ssh2.ts imports it first): the initial
 * window, the threshold below which ssh2 asks for an adjust (now: always, so
 * the tuner decides), and the adjust function. It also wraps Channel's
 * push() to count received bytes and see backpressure, and _read(), where
 * ssh2 adjusts for a reader that catches up after backpressure with its own
 * copy of the adjust (which tops the window up to 2 MiB whatever it has
 * grown to), so that the tuner decides there too. A reader that buffers the
 * data itself holds the window instead (holdWindow, for the tunnel pump).
 * `window_test.ts` and the OpenSSH tests check the advertised sizes.
 */
// ssh2 internals; no types.
import channelModule from "ssh2/lib/Channel.js";
import { type TunedChannel, type TunedGroup, WindowTuner } from "./window_tuner.ts";
import { logger } from "../log.ts";

const log = logger("ssh", "window");

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

/**
 * Largest window one channel grows to, the growth the channels of one
 * connection may hold together, and the growth the whole process may hold.
 */
export const MAX_CHANNEL_WINDOW = 16 * 1024 * 1024;
export const CONNECTION_BUDGET = 16 * 1024 * 1024;
export const WINDOW_BUDGET = 256 * 1024 * 1024;
const PACKET = 32 * 1024;
/** A connection whose idle round trip is at least this is a long link (window_tuner.ts). */
const LONG_LINK_MS = 10;
/** A window that carries this per round trip (bytes/s) is not the limit (window_tuner.ts). */
const AMPLE_RATE = 2 * 1024 * 1024 * 1024;

interface ConnectionLike {
  _protocol: {
    channelWindowAdjust(id: number, amount: number): void;
    ping(): void;
    _handlers?: Record<string, unknown>;
  };
  /** A Client's queue of global request replies (a server Connection has none). */
  _callbacks?: (() => void)[];
  [PROBE]?: ((answered: () => void) => void) | null;
  /** The shortest ping round trip seen on this connection, in ms. */
  [MIN_RTT]?: number;
  [GROUP]?: TunedGroup;
}

interface ChannelLike {
  outgoing: { state: string; id: number };
  incoming: { window: number };
  once(event: "close", listener: () => void): void;
  _client: ConnectionLike;
}

const PROBE = Symbol("warren ping");
const MIN_RTT = Symbol("warren min rtt");
const GROUP = Symbol("warren window group");

/** Send one ping; `answered` gets its round trip, which also updates the connection's shortest. */
function timedPing(conn: ConnectionLike, answered: (rttMs: number) => void): boolean {
  const probe = probeOf(conn);
  if (!probe) return false;
  const sent = performance.now();
  probe(() => {
    const rtt = performance.now() - sent;
    conn[MIN_RTT] = Math.min(conn[MIN_RTT] ?? Infinity, rtt);
    answered(rtt);
  });
  return true;
}

/**
 * Measure the connection's round trip while it is idle (just authenticated):
 * the reference that tells a long link from a queue. A ping that waits
 * behind megabytes this connection itself sent takes longer than the link's
 * round trip, and that wait is not a reason to grow a window.
 */
export function measureRoundTrip(conn: unknown): void {
  if (fixed) return;
  timedPing(conn as ConnectionLike, () => {});
}

/**
 * How to send one ping and hear its reply on this connection, or null.
 * Replies to global requests come back in order. ssh2's Client queues a
 * callback for each (its keepalive too); its server side keeps no queue and
 * ignores the replies to its own keepalive pings, so one is added here: every
 * ping, ssh2's or ours, takes a place in it.
 */
function probeOf(conn: ConnectionLike): ((answered: () => void) => void) | null {
  if (conn[PROBE] !== undefined) return conn[PROBE];
  const proto = conn._protocol;
  const ping = proto.ping.bind(proto);
  const replies = conn._callbacks;
  let probe: ((answered: () => void) => void) | null = null;
  if (Array.isArray(replies)) {
    probe = (answered) => {
      replies.push(answered);
      ping();
    };
  } else if (
    proto._handlers && proto._handlers.REQUEST_SUCCESS === undefined &&
    proto._handlers.REQUEST_FAILURE === undefined
  ) {
    const queue: (() => void)[] = [];
    const reply = () => queue.shift()?.();
    proto._handlers.REQUEST_SUCCESS = reply;
    proto._handlers.REQUEST_FAILURE = reply;
    proto.ping = () => {
      queue.push(() => {});
      ping();
    };
    probe = (answered) => {
      queue.push(answered);
      ping();
    };
  }
  conn[PROBE] = probe;
  return probe;
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

const fixed = size !== DEFAULT_WINDOW;
/** The window policy of this process (exported for tests). */
export const tuner = new WindowTuner({
  initial: size,
  max: fixed ? size : MAX_CHANNEL_WINDOW,
  budget: fixed ? 0 : WINDOW_BUDGET,
  perConnection: fixed ? 0 : CONNECTION_BUDGET,
  packet: PACKET,
  longLinkMs: LONG_LINK_MS,
  ampleRate: AMPLE_RATE,
});

const STATE = Symbol("warren window");
type Tracked = ChannelLike & { [STATE]?: TunedChannel };

function stateOf(ch: Tracked): TunedChannel {
  let st = ch[STATE];
  if (st === undefined) {
    const conn = ch._client;
    const fresh = tuner.channel(conn[GROUP] ??= tuner.group());
    ch[STATE] = st = fresh;
    ch.once("close", () => tuner.closed(fresh));
  }
  return st;
}

/** ssh2's adjust hook, called for each packet delivered to a reader that keeps up. */
function windowAdjust(ch: Tracked): void {
  // Nothing goes out on a channel after our CHANNEL_CLOSE (RFC 4254 5.3).
  if (ch.outgoing.state === "closed" || ch.outgoing.state === "closing") return;
  const st = stateOf(ch);
  const amount = tuner.adjust(st, ch.incoming.window);
  if (amount > 0) {
    ch.incoming.window += amount;
    ch._client._protocol.channelWindowAdjust(ch.outgoing.id, amount);
  }
  const conn = ch._client;
  if (st.received < st.target / 4 || !tuner.wantsProbe(st, conn[MIN_RTT])) return;
  if (probeOf(conn)) {
    tuner.probeSent(st);
    timedPing(conn, (rtt) => {
      const before = st.target;
      tuner.probeAnswered(st, rtt, conn[MIN_RTT] ?? rtt);
      if (st.target > before) {
        bufferUpTo(ch, st.target);
        log.debug("Channel {id}: window grown to {size} KiB", {
          id: ch.outgoing.id,
          size: st.target / 1024,
        });
      }
    });
  }
}

const m = channelModule as unknown as Record<string, unknown> & {
  Channel?: {
    prototype: { push(chunk: unknown, encoding?: unknown): boolean; _read(n: number): void };
  };
};
if (
  typeof m.windowAdjust !== "function" || m.MAX_WINDOW !== DEFAULT_WINDOW ||
  typeof m.Channel?.prototype.push !== "function" ||
  typeof m.Channel?.prototype._read !== "function"
) {
  throw new Error("ssh2's Channel module no longer has the shape lib/ssh/window.ts expects");
}
const HELD = Symbol("warren window held");
type Holdable = Tracked & { [HELD]?: number; _waitChanDrain?: boolean };

m.MAX_WINDOW = size;
m.WINDOW_THRESHOLD = Number.POSITIVE_INFINITY;
m.windowAdjust = windowAdjust;
const push = m.Channel.prototype.push;
/**
 * `len` bytes reached the reader: count them, and say whether the reader
 * holds the window (then no adjust until it lets go, and a hold of a whole
 * window is backpressure).
 */
function arrived(ch: Holdable, st: TunedChannel, len: number): boolean {
  st.received += len;
  const held = ch[HELD] ?? 0;
  if (held >= st.target) tuner.backpressure(st);
  return held > 0;
}

/** The reader wants more after a pause in the adjusts: top the window up now. */
function resumeAdjusts(ch: Holdable): void {
  ch._waitChanDrain = false;
  windowAdjust(ch);
}

m.Channel.prototype.push = function (this: Holdable, chunk: unknown, encoding?: unknown): boolean {
  const ok = push.call(this, chunk, encoding);
  if (chunk instanceof Uint8Array) {
    const st = stateOf(this);
    // Held: false makes ssh2 wait (_waitChanDrain) until the reader lets go.
    if (arrived(this, st, chunk.length)) return false;
    if (!ok) {
      tuner.backpressure(st);
      bufferUpTo(this, st.target);
    }
  }
  return ok;
};
// ssh2 calls _read when its reader wants more; after backpressure it then
// adjusts with Channel.js's own copy of the adjust (up to 2 MiB). This one
// asks the tuner instead, and does nothing while a reader holds the window.
m.Channel.prototype._read = function (this: Holdable): void {
  if ((this[HELD] ?? 0) === 0 && this._waitChanDrain) resumeAdjusts(this);
};

/**
 * For a reader that buffers a channel's data itself (the tunnel pump copies
 * it out as it arrives, and never lets ssh2's stream buffer it): `bytes` is
 * how much it holds unwritten, and while that is more than 0 the channel's
 * window is not topped up, so the peer stops once it has sent the window;
 * at `bytes` = 0 the window is topped up again at once. A hold of a whole
 * window or more is backpressure (the window shrinks). Returns false for a
 * stream that is not an ssh2 channel (the reader must pause it instead).
 */
export function holdWindow(stream: object, bytes: number): boolean {
  if (!(stream instanceof (m.Channel as unknown as new () => object))) return false;
  const ch = stream as Holdable;
  const was = ch[HELD] ?? 0;
  ch[HELD] = bytes;
  if (bytes === 0 && was > 0 && ch._waitChanDrain) resumeAdjusts(ch);
  return true;
}

/**
 * Channel data that the transport decrypted straight into the reader's
 * buffer (attachSink), never through ssh2: the accounting ssh2's handler and
 * push() would have done, the window's adjust included.
 */
export function dataArrived(stream: object, len: number): void {
  const ch = stream as Holdable;
  ch.incoming.window -= len;
  if (arrived(ch, stateOf(ch), len)) ch._waitChanDrain = true;
  else windowAdjust(ch);
}

/**
 * A grown window arrives in bursts of up to its size; ssh2's channel reports
 * backpressure once it buffers 2 MiB, which would stop the adjusts and shrink
 * the window on every burst. So the channel may buffer as much as its window
 * before it says "too much" (at most twice the window in all, the rest still
 * in flight); a reader that falls further behind still shrinks it.
 */
function bufferUpTo(ch: Tracked, bytes: number): void {
  const state = (ch as unknown as { _readableState?: { highWaterMark: number } })._readableState;
  if (state && typeof state.highWaterMark === "number") {
    state.highWaterMark = Math.max(DEFAULT_WINDOW, bytes);
  }
}
