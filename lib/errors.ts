/**
 * Typed errors and the exit codes they map to.
 *
 * A `UsageError` is the user's mistake on the command line or in a config file
 * (exit 2). A `WarrenError` is a runtime failure (exit 1) with a `kind` that
 * says which part failed. Both carry a one-line message meant for the user; the
 * `cause` chain is shown only at higher verbosity.
 */

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export type ErrorKind =
  | "auth"
  | "hostkey"
  | "bind"
  | "connect"
  | "dns"
  | "timeout"
  | "protocol"
  | "tunnel"
  | "config"
  | "io";

/** A runtime failure: exits 1. */
export class WarrenError extends Error {
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "WarrenError";
    this.kind = kind;
  }
}

/** A usage or configuration mistake: exits 2. */
export class UsageError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "UsageError";
  }
}

/**
 * A mistake in a configuration file: exits 2 like a usage error, and its line
 * (`FILE:LINE:COL: message`) is shown without the command-line hint.
 */
export class ConfigError extends UsageError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ConfigError";
  }
}

/**
 * Stopped by the user before warren was up (Ctrl-C at a question or while
 * connecting, SIGTERM): exit 128 + the signal's number, as a shell reports a
 * program the signal ended (130 for Ctrl-C, as OpenSSH's ssh).
 */
export class InterruptedError extends Error {
  readonly signal: Deno.Signal;
  constructor(message: string, signal: Deno.Signal = "SIGINT") {
    super(message);
    this.name = "InterruptedError";
    this.signal = signal;
  }

  get exitCode(): number {
    const numbers: Partial<Record<Deno.Signal, number>> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };
    return 128 + (numbers[this.signal] ?? 2);
  }
}

/** The exit code for an error that reached the top level. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof InterruptedError) return err.exitCode;
  return err instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
}

/**
 * The message of any thrown value, without a stack. A system error is said in
 * a few words, without Deno's "(os error N): call 'path'" or Node's
 * "syscall CODE: ... address" around them: "connection refused".
 */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return systemProblem(err) ?? err.message;
  return String(err);
}

/** What common system error codes mean, in the words warren's messages use. */
const SYSTEM_WORDS: Record<string, string> = {
  EACCES: "permission denied",
  EADDRINUSE: "address already in use",
  EADDRNOTAVAIL: "address not available on this host",
  ECONNABORTED: "connection aborted",
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset by the peer",
  EEXIST: "already exists",
  EHOSTUNREACH: "host unreachable",
  EISDIR: "is a directory",
  EMFILE: "too many open files",
  ENETUNREACH: "network is unreachable",
  ENOENT: "no such file or directory",
  ENOSPC: "no space left on the device",
  ENOTDIR: "not a directory",
  EPERM: "operation not permitted",
  EPIPE: "the other end has closed",
  EROFS: "read-only file system",
  ETIMEDOUT: "timed out",
};

/** The few words for a system error (Deno's or Node's), or undefined for any other error. */
export function systemProblem(err: Error & { code?: unknown }): string | undefined {
  const code = typeof err.code === "string" ? err.code : undefined;
  const words = code === undefined ? undefined : SYSTEM_WORDS[code];
  // Deno: "Connection refused (os error 111)", "... (os error 2): writefile '/x'".
  const deno = /^(.*?) \(os error \d+\)(?:: .*)?$/s.exec(err.message);
  if (deno) return words ?? lowerFirst(deno[1]);
  // Node: "listen EADDRINUSE: address already in use 127.0.0.1:22", "read ECONNRESET".
  if (code === undefined) return undefined;
  const node = new RegExp(`^[\\w.]+ ${code}(?:: (.*?))?(?: \\S+:\\d+)?$`, "s").exec(err.message);
  if (node) return words ?? (node[1] ? lowerFirst(node[1]) : code);
  return undefined;
}

function lowerFirst(text: string): string {
  return /^[A-Z][a-z]/.test(text) ? text[0].toLowerCase() + text.slice(1) : text;
}

/**
 * Why a file could not be read, in a few words: "no such file", "is a
 * directory", "permission denied", else messageOf's few words.
 */
export function fileProblem(err: unknown): string {
  if (err instanceof Deno.errors.NotFound) return "no such file";
  if (err instanceof Deno.errors.IsADirectory) return "is a directory";
  if (err instanceof Deno.errors.PermissionDenied) return "permission denied";
  return messageOf(err);
}

/** The message followed by each cause's message: "a: b: c". */
export function causeChain(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur !== undefined && depth < 8; depth++) {
    parts.push(messageOf(cur));
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return parts.join(": ");
}
