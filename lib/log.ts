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

/** Configure LogTape once, at start-up (again to change the level). */
export function setupLogging(level: LogLevel): void {
  resetSync();
  const detailed = level === "debug" || level === "trace";
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
