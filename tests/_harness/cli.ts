/**
 * Run the warren CLI exactly as `deno task start` does (same permission
 * flags, from lib/permissions.ts), for black-box tests: exit code, stdout and
 * stderr of a finished run, or a live process that can be waited on for a log
 * line and signalled.
 */
import { RUN_FLAGS } from "../../lib/permissions.ts";
import { LiveProc, runCommand } from "./live_proc.ts";
import type { NetnsHost } from "./netns.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: Record<string, string>;
  /** Kill the run after this long (ms); the test then fails on the result. */
  timeoutMs?: number;
  /** Run inside this network namespace (e.g. `warren serve` next to the origins). */
  netns?: NetnsHost;
  /** Run with at most this many open files (`prlimit --nofile`, as `ulimit -n`). */
  nofile?: number;
}

function command(
  args: string[],
  opts: CliOptions,
  stdout: "piped" | "null" = "piped",
): Deno.Command {
  const cmdArgs = ["run", "--no-prompt", ...RUN_FLAGS, MAIN, ...args];
  const options: Deno.CommandOptions = {
    env: { NO_COLOR: "1", ...opts.env },
    stdin: "null",
    stdout,
    stderr: "piped",
  };
  if (opts.nofile !== undefined) {
    const limit = [`--nofile=${opts.nofile}:${opts.nofile}`, "--", Deno.execPath(), ...cmdArgs];
    return opts.netns
      ? opts.netns.command("prlimit", limit, options)
      : new Deno.Command("prlimit", { args: limit, ...options });
  }
  return opts.netns
    ? opts.netns.command(Deno.execPath(), cmdArgs, options)
    : new Deno.Command(Deno.execPath(), { args: cmdArgs, ...options });
}

/** Run to completion. */
export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return runCommand(command(args, opts), opts.timeoutMs);
}

/** A running warren whose output is collected as it arrives (see LiveProc). */
export class LiveCli extends LiveProc {
  constructor(args: string[], opts: CliOptions = {}) {
    super(command(args, opts));
  }
}
