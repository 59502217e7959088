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

/** The exit code for an error that reached the top level. */
export function exitCodeFor(err: unknown): number {
  return err instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
}

/** The message of any thrown value, without a stack. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * Why a file could not be read, in a few words: "no such file", "is a
 * directory", "permission denied", else the system's message without Deno's
 * "(os error N)" and call details.
 */
export function fileProblem(err: unknown): string {
  if (err instanceof Deno.errors.NotFound) return "no such file";
  if (err instanceof Deno.errors.IsADirectory) return "is a directory";
  if (err instanceof Deno.errors.PermissionDenied) return "permission denied";
  return messageOf(err).replace(/ \(os error \d+\)(: \w+ '.*')?$/, "");
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
