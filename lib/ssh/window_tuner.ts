/**
 * When to send CHANNEL_WINDOW_ADJUST, and how large a channel's window
 * should be. Pure logic over a small view of a channel, so that it can be
 * tested without ssh2; window.ts puts it under ssh2.
 *
 * Eager adjusts. ssh2 tops a window up only once half of it is used, so on
 * average a quarter of the window sits idle. This follows OpenSSH
 * (channel_check_window): adjust as soon as more than three packets are
 * consumed, or the window falls below half.
 *
 * Growth. One channel moves at most one window per round trip. The tuner
 * estimates the bandwidth-delay product the way gRPC's BDP estimator does:
 * it sends one ping, counts the bytes this channel receives until the reply,
 * and when that sample reaches two thirds of the window the sender was
 * window-limited, so the window doubles (to at most `max`, and to at most
 * four times the sample). A window granted just before a ping takes a round
 * trip to show in what arrives, so that ping's sample is measured against
 * the window before the growth: growth goes on every round trip, as TCP's
 * slow start, instead of every other one (64 MiB over a 100 ms link: 2 MiB
 * to 16 MiB in three round trips, not six). On a long link the first such
 * sample takes a channel straight to its share of the connection's growth
 * (`longLinkMs`, see #jump). The bytes a ping sees are
 * scaled by the connection's shortest round trip over the ping's, so that a
 * queue (loopback, a slow link's buffers) does not pass for a long link. Only a channel
 * whose local reader keeps up grows: data that meets backpressure stops the
 * adjusts (ssh2 does not call the tuner then) and halves the window (down to
 * `initial`), so a slow reader does not keep a large window's worth of
 * memory and budget.
 * All growth above `initial` comes out of one per-process `budget`, and the
 * growth of the channels of one connection out of that connection's
 * `perConnection` too: they share one TCP path, and a server buffers what
 * their windows allow (eight streams each at 16 MiB kept sshd busy moving
 * 128 MiB around and made a 100 ms link slower, not faster). A closed channel
 * gives its share back.
 */

/** What the tuner reads and writes on a channel. */
export interface TunedChannel {
  /** The window this channel is granted up to. */
  target: number;
  /** Bytes received in all (for BDP samples). */
  received: number;
  /** The byte count when the outstanding ping was sent; undefined if none. */
  probeFrom?: number;
  /** The byte count when the last ping was sent. */
  lastProbe?: number;
  /** The window the outstanding ping's sample is measured against. */
  probeWindow?: number;
  /** The window before the last growth, until the next ping is sent. */
  grownFrom?: number;
  /** Growth above `initial` this channel holds from the budget. */
  grown: number;
  /** Halved for backpressure, and the reader has not caught up since. */
  squeezed?: boolean;
  /** The connection whose growth budget this channel shares, if any. */
  group?: TunedGroup;
}

/** The growth budget the channels of one connection share. */
export interface TunedGroup {
  budgetLeft: number;
  /** Channels of the group not closed yet. */
  channels: number;
}

export interface TunerOptions {
  /** Starting window, and the floor after backpressure. */
  initial: number;
  /** Largest window one channel may grow to; `initial` turns growth off. */
  max: number;
  /** Growth above `initial`, summed over all channels of the process. */
  budget: number;
  /** Growth above `initial`, summed over the channels of one connection (default: budget). */
  perConnection?: number;
  /** The largest packet the peer sends (for "three packets consumed"). */
  packet: number;
  /** A link whose idle round trip is at least this (ms) is long: growth jumps to a share at once (#jump). */
  longLinkMs?: number;
  /**
   * Bytes per second past which a window is not the limit: a channel whose
   * window carries this much per round trip of its link is not pinged.
   */
  ampleRate?: number;
}

export class WindowTuner {
  readonly options: TunerOptions;
  #budgetLeft: number;

  constructor(options: TunerOptions) {
    this.options = options;
    this.#budgetLeft = options.budget;
  }

  get budgetLeft(): number {
    return this.#budgetLeft;
  }

  /** A new connection's shared growth budget. */
  group(): TunedGroup {
    return { budgetLeft: this.options.perConnection ?? this.options.budget, channels: 0 };
  }

  channel(group?: TunedGroup): TunedChannel {
    const { initial } = this.options;
    if (group) group.channels++;
    return { target: initial, received: 0, grown: 0, group };
  }

  /**
   * Data was received and delivered to a reader that keeps up, and the peer
   * may still send `window` bytes: the adjust to send now (0: none).
   */
  adjust(ch: TunedChannel, window: number): number {
    ch.squeezed = false;
    const consumed = ch.target - window;
    if (consumed <= 0) return 0;
    if (consumed <= 3 * this.options.packet && window >= ch.target / 2) return 0;
    return consumed;
  }

  /**
   * Whether to start a BDP sample now: none outstanding, the channel could
   * grow, and it has received a quarter of its window since the last one. A
   * channel of small messages (a database's queries) is not pinged on every
   * packet: each ping is one more packet for the server to answer, and
   * sshd, which leaves Nagle's algorithm on for forwarding, then holds that
   * answer back until the client acknowledges the data before it (40 ms of
   * delayed ACK on every round trip after the first 512 KiB, seen on loopback).
   * Nor is a channel whose window already carries `ampleRate` over the
   * connection's shortest round trip `minRtt` (ms): on loopback, 2 MiB per
   * 0.1 ms; the pings cost both ends a packet per quarter window for nothing.
   */
  wantsProbe(ch: TunedChannel, minRtt?: number): boolean {
    const { ampleRate } = this.options;
    if (ampleRate !== undefined && minRtt !== undefined && ch.target * 1000 >= ampleRate * minRtt) {
      return false;
    }
    return ch.probeFrom === undefined && ch.target < this.options.max && this.#budgetLeft > 0 &&
      (ch.group === undefined || ch.group.budgetLeft > 0) &&
      (ch.lastProbe === undefined || ch.received - ch.lastProbe >= ch.target / 4);
  }

  probeSent(ch: TunedChannel): void {
    ch.lastProbe = ch.received;
    ch.probeFrom = ch.received;
    ch.probeWindow = ch.grownFrom ?? ch.target;
    ch.grownFrom = undefined;
  }

  /**
   * The ping's reply, `rtt` ms after it left, on a connection whose shortest
   * round trip is `minRtt`: grow if the channel received about a window in
   * one round trip of the link. A ping that took longer than the link's
   * round trip waited in a queue (on loopback, behind the data of this very
   * window), so the sample is scaled to the bytes one link round trip
   * carries at that rate: a window that only fills queues does not grow.
   */
  probeAnswered(ch: TunedChannel, rtt = 0, minRtt = rtt): void {
    if (ch.probeFrom === undefined) return;
    const received = ch.received - ch.probeFrom;
    const sample = rtt > minRtt && minRtt >= 0 ? received * (minRtt / rtt) : received;
    const limit = Math.min(ch.probeWindow ?? ch.target, ch.target);
    ch.probeFrom = ch.probeWindow = undefined;
    if (sample * 3 < limit * 2) return;
    const step = Math.min(ch.target * 2, sample * 4, this.options.max);
    const want = Math.max(step, this.#jump(ch, minRtt)) - ch.target;
    const grow = Math.min(want, this.#budgetLeft, ch.group?.budgetLeft ?? Infinity);
    if (grow <= 0) return;
    if (ch.group) ch.group.budgetLeft -= grow;
    ch.grownFrom = ch.target;
    ch.target += grow;
    ch.grown += grow;
    this.#budgetLeft -= grow;
  }

  /**
   * On a long link, a channel that fills its window goes at once to its share
   * of the connection's growth (all of it for a connection's only channel,
   * up to `max`), not there by doublings: a window that grows step by step
   * spends its largest steps window-limited, and a server that refills
   * megabytes of buffer from empty at each step can spend more on that than
   * on the data (sshd did: 7-8 CPU-seconds per GiB at 50 ms, a third of the
   * runs). The doublings go on from there.
   */
  #jump(ch: TunedChannel, minRtt: number): number {
    if (minRtt < (this.options.longLinkMs ?? Infinity)) return 0;
    const share = ch.group
      ? (this.options.perConnection ?? this.options.budget) / Math.max(1, ch.group.channels)
      : this.options.max;
    return Math.min(this.options.max, this.options.initial + share);
  }

  /**
   * The reader fell behind: halve the window, down to `initial`, and give the
   * difference back to the budget (what is granted stays granted). Once per
   * episode: what was already granted keeps arriving while the reader is
   * behind, and one slow moment must not collapse a grown window to
   * `initial`; the next adjust (the reader caught up) ends the episode.
   */
  backpressure(ch: TunedChannel): void {
    if (ch.squeezed) return;
    ch.squeezed = true;
    const target = Math.max(this.options.initial, Math.floor(ch.target / 2));
    const freed = ch.target - target;
    ch.target = target;
    ch.grownFrom = undefined;
    ch.grown -= freed;
    this.#budgetLeft += freed;
    if (ch.group) ch.group.budgetLeft += freed;
  }

  closed(ch: TunedChannel): void {
    this.#release(ch);
    if (ch.group) ch.group.channels--;
  }

  #release(ch: TunedChannel): void {
    this.#budgetLeft += ch.grown;
    if (ch.group) ch.group.budgetLeft += ch.grown;
    ch.grown = 0;
  }
}
