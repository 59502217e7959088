/**
 * The permissions warren runs with. The list lives in `lib/build/build.json`,
 * the one definition of the build: `deno task start` and `deno task install`
 * (checked by tests/project_test.ts, since deno.json cannot import), the
 * compiled binaries (`lib/build/compile.ts`), a re-executed background process
 * and the tests' CLI runs all use exactly this list.
 *
 * - net: SSH servers, tunnel listeners and destinations are the user's choice.
 * - read: keys, known_hosts, config, password files, the agent socket.
 * - write: known_hosts (tofu/ask), PidFile, serve's generated host key, the
 *   agent socket (a Unix socket needs write access to connect).
 * - env: HOME/USER/SSH_AUTH_SOCK and `-P env://VAR`, which may be any name.
 * - run: `-- command`, `-P extprog://`, and re-running itself for `-f`.
 * - sys: the home directory and host name for node: modules ssh2 uses.
 * - ffi: the system's libcrypto for the SSH ciphers (lib/ssh/crypto/), four
 *   to fifteen times faster than node:crypto. WARREN_CRYPTO=builtin turns the
 *   FFI path off.
 *
 * A run drops what it will not need once its command line is parsed and again
 * once it is up (lib/cli/scope.ts): ffi always, once libcrypto is loaded; run,
 * write and env unless a reason named there keeps them.
 */
import build from "./build/build.json" with { type: "json" };

export const PERMISSION_FLAGS: readonly string[] = Object.freeze([...build.permissions]);

/**
 * V8's young generation held at 1 MiB (semi-space) instead of growing to 16:
 * a bulk transfer makes short-lived buffers at hundreds of MiB/s, and with
 * the default young generation they waited for collection long enough to
 * lift the peak RSS of one upload from 75 to about 160 MiB; at 1 MiB it
 * stays near 100, with the same or less CPU per GiB (tests/bench).
 */
export const V8_FLAGS: readonly string[] = Object.freeze([...build.v8Flags]);

/** Everything warren runs with: the V8 flags, then the permissions. */
export const RUN_FLAGS: readonly string[] = Object.freeze([
  `--v8-flags=${V8_FLAGS.join(",")}`,
  ...PERMISSION_FLAGS,
]);
