/**
 * Process helpers for the real-peer harness (Linux /proc based).
 *
 * `run()` runs a command to completion with a hard time limit. `descendants()`
 * lists a process tree (pid plus start time, so a recycled pid is never
 * signalled) and `killAll()` ends such a list: SIGTERM, then SIGKILL, waiting
 * (bounded) until every process is gone.
 */

import { sleep } from "./free_port.ts";

const STOP_TIMEOUT_MS = 5_000;

/** Run a command to completion (bounded); throw with its stderr on failure. */
export async function run(
  cmd: Deno.Command | string,
  args: string[] = [],
): Promise<string> {
  const child = (typeof cmd === "string"
    ? new Deno.Command(cmd, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    })
    : cmd).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  try {
    const out = await child.output();
    const text = new TextDecoder().decode(out.stdout);
    if (!out.success) {
      const err = new TextDecoder().decode(out.stderr).trim();
      throw new Error(
        `${typeof cmd === "string" ? cmd : "command"} ${args.join(" ")} failed (${out.code}): ${
          err || text
        }`,
      );
    }
    return text;
  } finally {
    clearTimeout(timer);
  }
}

/** One process: pid plus start time, so a recycled pid is never signalled. */
export type Proc = { pid: number; start: string };

function readStat(
  pid: number,
): { state: string; ppid: number; start: string } | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { state: f[0], ppid: Number(f[1]), start: f[19] };
  } catch {
    return undefined;
  }
}

/** All descendants of `root` (per-connection sshd processes and theirs). */
export function descendants(root: number): Proc[] {
  const children = new Map<number, Proc[]>();
  for (const entry of Deno.readDirSync("/proc")) {
    const pid = Number(entry.name);
    if (!pid) continue;
    const st = readStat(pid);
    if (!st) continue;
    const list = children.get(st.ppid) ?? [];
    list.push({ pid, start: st.start });
    children.set(st.ppid, list);
  }
  const out: Proc[] = [];
  const todo = [root];
  while (todo.length) {
    for (const p of children.get(todo.pop()!) ?? []) {
      out.push(p);
      todo.push(p.pid);
    }
  }
  return out;
}

/** SIGTERM, then SIGKILL after a while, and wait until all are gone. */
export async function killAll(procs: Proc[]): Promise<void> {
  const alive = () =>
    procs.filter((p) => {
      const st = readStat(p.pid);
      return st?.start === p.start && st.state !== "Z";
    });
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    for (const p of alive()) {
      try {
        Deno.kill(p.pid, signal);
      } catch { /* gone */ }
    }
    const deadline = Date.now() + STOP_TIMEOUT_MS / 2;
    while (alive().length && Date.now() < deadline) await sleep(20);
    if (!alive().length) return;
  }
  throw new Error(`sshd processes survive: ${alive().map((p) => p.pid)}`);
}
