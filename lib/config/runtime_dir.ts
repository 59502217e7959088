/**
 * The user's private runtime directory (control socket, tokens, host key
 * pins), and the check that keeps it private.
 */
import { WarrenError } from "../errors.ts";
import { type Env, homeDir } from "./env.ts";

export interface Platform {
  os: typeof Deno.build.os;
  uid: number | null;
}

/**
 * The user id, without asking for --allow-sys=uid (warren's permission set
 * does not include it): the owner of a file we create, when not granted.
 */
export function currentUid(): number | null {
  if (Deno.build.os === "windows") return null;
  if (Deno.permissions.querySync({ name: "sys", kind: "uid" }).state === "granted") {
    return Deno.uid();
  }
  const probe = Deno.makeTempFileSync({ prefix: "warren-uid-" });
  try {
    return Deno.statSync(probe).uid;
  } finally {
    Deno.removeSync(probe);
  }
}

let here: Platform | undefined;
export function platformHere(): Platform {
  return here ??= { os: Deno.build.os, uid: currentUid() };
}

/** The user's private directory for the control socket, tokens and host key pins. */
export function runtimeDir(env: Env, platform: Platform = platformHere()): string {
  if (platform.os === "windows") {
    return `${env("LOCALAPPDATA") || homeDir(env)}\\warren`;
  }
  const xdg = env("XDG_RUNTIME_DIR");
  if (xdg) return `${xdg}/warren`;
  return `/tmp/warren-${platform.uid ?? 0}`;
}

/**
 * Create `path` (mode 0700) if missing; refuse one owned by another user or
 * writable by others. No-op checks on Windows, where modes do not apply.
 */
export async function ensurePrivateDir(path: string): Promise<void> {
  try {
    await Deno.mkdir(path, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new WarrenError("io", `Cannot create ${path}: ${messageText(err)}`, { cause: err });
  }
  if (Deno.build.os === "windows") return;
  const st = await Deno.lstat(path);
  if (!st.isDirectory) throw new WarrenError("io", `Cannot use ${path}: not a directory`);
  const uid = platformHere().uid;
  if (st.uid !== uid) {
    throw new WarrenError("io", `Cannot use ${path}: owned by uid ${st.uid}, not by you (${uid})`);
  }
  if (st.mode !== null && (st.mode & 0o077) !== 0) {
    await Deno.chmod(path, 0o700);
  }
}

function messageText(err: unknown): string {
  if (err instanceof Deno.errors.PermissionDenied) return "permission denied";
  return err instanceof Error ? err.message : String(err);
}
