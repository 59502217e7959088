/**
 * The user's environment as warren reads it: variables come in as a function
 * (no --allow-env lookups hidden in pure code), and the default paths that
 * follow from the home directory.
 */

/** Reads one environment variable; tests pass a fake. */
export type Env = (name: string) => string | undefined;

/** The user's home directory, from the environment (no extra permission). */
export function homeDir(env: (name: string) => string | undefined): string {
  return env("HOME") ?? env("USERPROFILE") ?? ".";
}

/** The local user name, for the default login name. */
export function localUser(env: (name: string) => string | undefined): string {
  return env("USER") ?? env("USERNAME") ?? env("LOGNAME") ?? "root";
}

/** The default identity files, in OpenSSH's order of preference. */
export function defaultIdentityFiles(home: string): string[] {
  return ["id_ed25519", "id_ecdsa", "id_rsa"].map((n) => `${home}/.ssh/${n}`);
}

/** The default known_hosts files: the user's (written), then the system's. */
export function defaultKnownHostsFiles(home: string): string[] {
  return [`${home}/.ssh/known_hosts`, "/etc/ssh/ssh_known_hosts"];
}

/** `~/x` → `$HOME/x`, as ssh does for paths it is given. */
export function expandHome(path: string, home: string): string {
  if (path === "~") return home;
  if (path.startsWith("~/")) return `${home}${path.slice(1)}`;
  return path;
}

/** The broker config file: --config FILE, else $WARREN_CONFIG, else ~/.ssh2/ssh-broker-config.xml. */
export function resolveConfigPath(explicit: string | undefined, env: Env): string {
  if (explicit !== undefined && explicit !== "") return explicit;
  const fromEnv = env("WARREN_CONFIG");
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  return `${homeDir(env)}/.ssh2/ssh-broker-config.xml`;
}
