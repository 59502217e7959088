/**
 * The permissions warren runs with: `deno task start`, the compiled binaries
 * (deno.json's compile task) and a re-executed background process all use
 * exactly this list; a test checks deno.json against it.
 *
 * - net: SSH servers, tunnel listeners and destinations are the user's choice.
 * - read: keys, known_hosts, config, password files, the agent socket.
 * - write: known_hosts (tofu/ask), PidFile, the agent socket (a Unix socket
 *   needs write access to connect).
 * - env: HOME/USER/SSH_AUTH_SOCK and `-P env://VAR`, which may be any name.
 * - run: `-- command`, `-P extprog://`, and re-running itself for `-f`.
 * - sys: the home directory and host name for node: modules ssh2 uses.
 * - ffi: the system's libcrypto for the SSH ciphers (lib/ssh/crypto/), four
 *   to fifteen times faster than node:crypto. It adds no reach warren does
 *   not already have: unrestricted run and write already let a process run
 *   any native code. WARREN_CRYPTO=builtin turns the FFI path off.
 */
export const PERMISSION_FLAGS: readonly string[] = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  "--allow-sys=homedir,hostname",
  "--allow-ffi",
];
