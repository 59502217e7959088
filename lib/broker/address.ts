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
import { UsageError } from "../errors.ts";
import type { Env } from "../config/env.ts";
import { type Platform, platformHere, runtimeDir } from "../config/runtime_dir.ts";
import { parsePort } from "../config/forward.ts";

export type ControlAddress =
  | { kind: "unix"; path: string }
  | { kind: "tcp"; hostname: string; port: number; tokenFile: string };

export const DEFAULT_TCP_PORT = 7436;

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

/** The directory part of a socket or token path. */
export function dirOf(path: string): string {
  const i = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return i <= 0 ? (i === 0 ? "/" : ".") : path.slice(0, i);
}
