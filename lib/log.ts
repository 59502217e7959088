/**
 * Logging for warren, through LogTape.
 *
 * One place configures levels and the sink: a synchronous stderr writer, so a
 * line is out before the process exits and lines never interleave mid-way.
 * Categories start with "warren" (["warren","tunnel"], ["warren","ssh"], …).
 * The CLI's own output (help, version, a PID) goes to stdout through main.ts;
 * everything else is a log line on stderr.
 */
import {
  configureSync,
  getLogger,
  type Logger,
  type LogLevel,
  type LogRecord,
  resetSync,
} from "@logtape/logtape";

export type { Logger };

/** The logger for a part of warren: `logger("tunnel")`. */
export function logger(...category: string[]): Logger {
  return getLogger(["warren", ...category]);
}

/** Verbosity from the command line: -q, default, -v, -vv / -D. */
export function levelFor(verbosity: number): LogLevel {
  if (verbosity < 0) return "error";
  if (verbosity === 0) return "info";
  if (verbosity === 1) return "debug";
  return "trace";
}

const encoder = new TextEncoder();
let writeLine: (line: string) => void = (line) => {
  try {
    Deno.stderr.writeSync(encoder.encode(line));
  } catch {
    // stderr went away (a detached background process): drop the line.
  }
};

/** Replace where log lines go (tests, and the detached background process). */
export function setLogWriter(write: (line: string) => void): void {
  writeLine = write;
}

/** Render a record's message: strings as they are, other values inspected. */
export function renderMessage(record: LogRecord): string {
  let out = "";
  for (let i = 0; i < record.message.length; i++) {
    const part = record.message[i];
    if (i % 2 === 0) out += part as string;
    else if (typeof part === "string") out += part;
    else out += Deno.inspect(part, { colors: false, depth: 3 });
  }
  return out;
}

const PREFIX: Record<LogLevel, string> = {
  trace: "trace: ",
  debug: "debug: ",
  info: "",
  warning: "warning: ",
  error: "error: ",
  fatal: "fatal: ",
};

function formatRecord(record: LogRecord, withCategory: boolean): string {
  const where = withCategory && record.category.length > 1
    ? `[${record.category.slice(1).join(".")}] `
    : "";
  return `warren: ${PREFIX[record.level]}${where}${renderMessage(record)}\n`;
}

let debugOn = false;

/**
 * Whether warren's debug lines are logged: for a line built once per
 * connection, which costs more than this check (LogTape's own
 * `isEnabledFor` walks the category tree, about 1% of a tunneled
 * connection's CPU).
 */
export function debugEnabled(): boolean {
  return debugOn;
}

/** Configure LogTape once, at start-up (again to change the level). */
export function setupLogging(level: LogLevel): void {
  resetSync();
  const detailed = debugOn = level === "debug" || level === "trace";
  configureSync({
    reset: true,
    sinks: { stderr: (record) => writeLine(formatRecord(record, detailed)) },
    loggers: [
      { category: ["warren"], lowestLevel: level, sinks: ["stderr"] },
      {
        category: ["logtape", "meta"],
        lowestLevel: "warning",
        sinks: ["stderr"],
      },
    ],
  });
}

/** How often a gate lets one line of a kind from one source through (and summarises the rest). */
export const GATE_INTERVAL_MS = 10_000;
/** Sources a gate tracks one by one; beyond, new sources share one count per kind. */
const GATE_MAX_SOURCES = 1_000;

interface GateEntry {
  since: number;
  suppressed: number;
  log: Logger;
  level: "info" | "warn" | "error";
  source: string;
  what: string;
}

/**
 * Log lines that someone else can cause at will (a hostile proxy client, a
 * password guesser, an FTP server): the first line of a kind from a source
 * in an interval is logged with its detail, the rest are counted and
 * summarised in one line when the interval ends:
 *
 *   warning: 127.0.0.1:53142: proxy request failed: SOCKS5 command 2 is not supported (CONNECT only)
 *   warning: 127.0.0.1: ... and 240 more failed proxy requests like it in the last 10 s
 *
 * so no one can drive log lines at line rate. A source is usually the peer's
 * address without its port. One gate per tunnel or server; close() prints
 * what is pending and stops its timer.
 */
export class LogGate {
  #intervalMs: number;
  #entries = new Map<string, GateEntry>();
  #timer?: ReturnType<typeof setInterval>;
  #closed = false;

  constructor(intervalMs = GATE_INTERVAL_MS) {
    this.#intervalMs = intervalMs;
  }

  /**
   * Log `message` (a LogTape template) unless a line of `kind` from `source`
   * went out within the interval; then count it, to be summarised as
   * "... and N more `what` like it". Returns whether it was logged.
   */
  log(
    log: Logger,
    level: "info" | "warn" | "error",
    kind: string,
    source: string,
    what: string,
    message: string,
    props: Record<string, unknown>,
  ): boolean {
    if (this.#closed) {
      log[level](message, props);
      return true;
    }
    let key = `${kind}\0${source}`;
    let entry = this.#entries.get(key);
    if (!entry && this.#entries.size >= GATE_MAX_SOURCES) {
      source = "(many sources)";
      key = `${kind}\0${source}`;
      entry = this.#entries.get(key);
    }
    if (entry) {
      entry.suppressed++;
      return false;
    }
    this.#entries.set(key, { since: performance.now(), suppressed: 0, log, level, source, what });
    this.#timer ??= this.#startTimer();
    log[level](message, props);
    return true;
  }

  /** Whether lines of `kind` from `source` are being held back now (one went out lately). */
  busy(kind: string, source: string): boolean {
    return this.#entries.has(`${kind}\0${source}`);
  }

  /** Summarise what is pending now and stop (the tunnel or server is closing). */
  close(): void {
    this.#closed = true;
    this.#sweep(Infinity);
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #startTimer(): ReturnType<typeof setInterval> {
    const timer = setInterval(() => this.#sweep(performance.now()), this.#intervalMs / 5);
    Deno.unrefTimer(timer);
    return timer;
  }

  /** End the windows that are over at `now`: summarise them or forget them. */
  #sweep(now: number): void {
    for (const [key, e] of this.#entries) {
      if (now !== Infinity && now - e.since < this.#intervalMs) continue;
      if (e.suppressed === 0) {
        this.#entries.delete(key);
        continue;
      }
      const end = Math.min(now, performance.now());
      e.log[e.level]("{source}: ... and {n} more {what} like it in the last {s} s", {
        source: e.source,
        n: e.suppressed,
        what: e.what,
        s: Math.max(1, Math.round((end - e.since) / 1000)),
      });
      // A flood that goes on keeps being summarised, one line per interval.
      e.since = end;
      e.suppressed = 0;
      if (now === Infinity) this.#entries.delete(key);
    }
    if (this.#entries.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
