/**
 * Where the broker's control endpoint lives, and the private directory it
 * lives in.
 *
 *   ADDRESS (-a, else $WARREN_BROKER, else the default):
 *     /path/to/socket          a Unix domain socket (mode 0600)
 *     tcp:PORT                 loopback TCP on 127.0.0.1:PORT, for systems
 *     tcp:127.0.0.1:PORT       without Unix sockets; the broker writes a
 *                              random token to broker-tcp-PORT.token in the
 *                              private directory and ctl must present it
 *
 *   Default: $XDG_RUNTIME_DIR/warren/broker.sock, else
 *   /tmp/warren-$UID/broker.sock; on Windows tcp:127.0.0.1:7436 with the token
 *   under %LOCALAPPDATA%\warren.
 *
 * The private directory is created with mode 0700 and refused if someone else
 * owns it or others may write to it (a shared /tmp is the reason to check).
 */
import { UsageError, WarrenError } from "../errors.ts";
import type { Env } from "../cli/args.ts";
import { homeDir } from "../config/client_config.ts";
import { parsePort } from "../cli/forward.ts";

export type ControlAddress =
  | { kind: "unix"; path: string }
  | { kind: "tcp"; hostname: string; port: number; tokenFile: string };

export const DEFAULT_TCP_PORT = 7436;

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
function platformHere(): Platform {
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

/** Parse an ADDRESS as -a and $WARREN_BROKER give it. */
export function parseControlAddress(
  text: string,
  env: Env,
  platform: Platform = platformHere(),
): ControlAddress {
  if (text.startsWith("tcp:")) {
    const rest = text.slice(4);
    const m = /^(?:(.+):)?(\d+)$/.exec(rest);
    const what = `Invalid broker address '${text}'`;
    if (!m) throw new UsageError(`${what}: expected tcp:PORT or tcp:127.0.0.1:PORT`);
    const hostname = (m[1] ?? "127.0.0.1").replace(/^\[(.*)\]$/, "$1");
    if (hostname !== "127.0.0.1" && hostname !== "::1" && hostname !== "localhost") {
      throw new UsageError(`${what}: the control port listens on loopback only`);
    }
    const port = parsePort(m[2], what, 1);
    const dir = runtimeDir(env, platform);
    const sep = platform.os === "windows" ? "\\" : "/";
    return {
      kind: "tcp",
      hostname: hostname === "localhost" ? "127.0.0.1" : hostname,
      port,
      tokenFile: `${dir}${sep}broker-tcp-${port}.token`,
    };
  }
  if (text === "") throw new UsageError("Invalid broker address: empty");
  return { kind: "unix", path: text };
}

/** -a ADDRESS, else $WARREN_BROKER, else the platform's default. */
export function resolveControlAddress(
  explicit: string | undefined,
  env: Env,
  platform: Platform = platformHere(),
): ControlAddress {
  const text = explicit || env("WARREN_BROKER");
  if (text) return parseControlAddress(text, env, platform);
  if (platform.os === "windows") {
    return parseControlAddress(`tcp:127.0.0.1:${DEFAULT_TCP_PORT}`, env, platform);
  }
  return { kind: "unix", path: `${runtimeDir(env, platform)}/broker.sock` };
}

/** How an address is shown to the user (and accepted back by -a). */
export function formatControlAddress(address: ControlAddress): string {
  if (address.kind === "unix") return address.path;
  const host = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname;
  return `tcp:${host}:${address.port}`;
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

/** The directory part of a socket or token path. */
export function dirOf(path: string): string {
  const i = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return i <= 0 ? (i === 0 ? "/" : ".") : path.slice(0, i);
}
