/**
 * How many clients may wait to authenticate at once: sshd's MaxStartups.
 *
 * Every unauthenticated connection costs a key exchange (a signature with the
 * host key) and holds a socket for up to the login grace time, so without a
 * bound anyone who can reach the port can pile them up. As sshd does, the
 * limit is `start:rate:full`: below `start` waiting connections every new
 * one is served; from `start` on a new one is refused with probability
 * `rate`%, rising linearly to 100% at `full`. A single number N means
 * N:100:N, a hard cap. The default is sshd's, 10:30:100.
 */

export interface Startups {
  start: number;
  /** Percent refused at `start`. */
  rate: number;
  full: number;
}

export const DEFAULT_STARTUPS: Startups = { start: 10, rate: 30, full: 100 };

/** "N" or "start:rate:full"; throws a message on anything else. */
export function parseStartups(text: string): Startups {
  const parts = text.split(":");
  const nums = parts.map((p) => /^\d{1,6}$/.test(p) ? Number(p) : NaN);
  if (nums.some(Number.isNaN) || (parts.length !== 1 && parts.length !== 3)) {
    throw new Error("expected N or start:rate:full, e.g. 10:30:100");
  }
  const [start, rate, full] = parts.length === 1 ? [nums[0], 100, nums[0]] : nums;
  if (start < 1) throw new Error("start must be at least 1");
  if (rate < 1 || rate > 100) throw new Error("rate must be a percentage from 1 to 100");
  if (full < start) throw new Error("full must be at least start");
  return { start, rate, full };
}

/**
 * Whether a new connection is refused while `waiting` others have not yet
 * authenticated. `random` is in [0, 1) (Math.random in use, fixed in tests).
 */
export function refuseStartup(s: Startups, waiting: number, random: number): boolean {
  if (waiting < s.start) return false;
  if (waiting >= s.full) return true;
  const percent = s.rate + (100 - s.rate) * (waiting - s.start) / (s.full - s.start);
  return random * 100 < percent;
}

export function formatStartups(s: Startups): string {
  return s.start === s.full && s.rate === 100 ? `${s.full}` : `${s.start}:${s.rate}:${s.full}`;
}
