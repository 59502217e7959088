/**
 * A run gives up the permissions it will never need. warren starts with the
 * binary's whole list (lib/permissions.ts); once a command has parsed its
 * command line it revokes `run`, `write`, `env` and `ffi` unless a reason
 * keeps them, and again once it is up, when most reasons are spent. A
 * revoked permission cannot come back in this process, so a flaw found later
 * in the run (in ssh2, a tunnel, a protocol decoder) cannot start a program
 * or write a file through it.
 *
 * `-v` shows each stage: what was kept and why, and what was dropped.
 */
import { logger } from "../log.ts";

const log = logger("permissions");

export type Droppable = "run" | "write" | "env" | "ffi";
export const DROPPABLE: readonly Droppable[] = ["run", "write", "env", "ffi"];

/** Why a permission stays; a permission with no reason is dropped. */
export type Reasons = Partial<Record<Droppable, string[]>>;

const DROPPED_WHY: Record<Droppable, string> = {
  run: "nothing left to start",
  write: "nothing left to write",
  env: "nothing reads it any more",
  ffi: "no library left to load",
};

/** What this process gave up, and why. */
const dropped = new Map<Droppable, string>();

function granted(name: Droppable): boolean {
  return Deno.permissions.querySync({ name }).state === "granted";
}

/** Revoke one permission if this process has it; true if it was revoked now. */
export function dropPermission(name: Droppable, why: string = DROPPED_WHY[name]): boolean {
  if (!granted(name)) return false;
  Deno.permissions.revokeSync({ name });
  dropped.set(name, why);
  return true;
}

export interface ScopeReport {
  kept: { name: Droppable; why: string[] }[];
  dropped: { name: Droppable; why: string }[];
}

/** Keep each permission that has a reason, drop the rest, and say so at debug level (-v). */
export function scopePermissions(stage: string, keep: Reasons): ScopeReport {
  const report: ScopeReport = { kept: [], dropped: [] };
  for (const name of DROPPABLE) {
    const why = keep[name] ?? [];
    if (why.length > 0 && granted(name)) report.kept.push({ name, why });
    else if (why.length === 0) dropPermission(name);
  }
  for (const name of DROPPABLE) {
    const why = dropped.get(name);
    if (why !== undefined && !granted(name)) report.dropped.push({ name, why });
  }
  log.debug("Permissions {stage}: kept {kept}; dropped {dropped}", {
    stage,
    kept: report.kept.map((k) => `${k.name} (${k.why.join("; ")})`).join(", ") || "none",
    dropped: report.dropped.map((d) => `${d.name} (${d.why})`).join(", ") || "none",
  });
  return report;
}
