/**
 * From a profile of ssh-broker-config.xml to what `connectSsh` needs, and
 * from its `<tunnels>` to -L/-R specs. Shared by the broker and by profile
 * targets on the command line (`warren PROFILE`).
 *
 * - user: the profile's, else the default-settings', else the local user.
 * - authentication-methods: the methods warren implements (publickey,
 *   keyboard-interactive, password) are tried in the file's order, and only
 *   those; hostbased and gssapi are skipped. Without publickey no key file
 *   or agent is offered; without password and keyboard-interactive no
 *   password source.
 * - `<hostkey file>` pins the server key: the file's key(s) (a .pub file or
 *   known_hosts lines, whatever host they name) become the only accepted
 *   keys for this host and port, policy strict. warren writes them as a
 *   known_hosts file under the private runtime directory (pins/), since the
 *   host key check reads files.
 * - tcp-connect-timeout 0 = no deadline of warren's own (the OS's).
 * - ciphers, macs, kexs, hostkey-algorithms: the preference lists go to
 *   ssh2 as they are (empty = warren's and ssh2's defaults).
 */
import { createHash } from "node:crypto";
import type { ForwardSpec } from "../config/forward.ts";
import type { Env } from "../config/env.ts";
import type { BrokerConfig, ProfileConfig, TunnelConfig } from "../config/tectia/model.ts";
import { defaultIdentityFiles, homeDir, localUser } from "../config/env.ts";
import { formatKnownHostsLine, keyTypeOfBlob } from "../config/known_hosts.ts";
import { ConfigError, fileProblem } from "../errors.ts";
import type { ConnectOptions } from "../ssh/connection.ts";
import { type AuthMethodName, DEFAULT_AUTH_METHODS } from "../ssh/auth.ts";
import { Buffer } from "node:buffer";
import { ensurePrivateDir, runtimeDir } from "../config/runtime_dir.ts";

/** Keepalive replies missed before a connection counts as lost. */
export const KEEPALIVE_COUNT_MAX = 3;

/** The connect options for one profile (without a prompter or a socket). */
export async function connectOptionsFor(
  profile: ProfileConfig,
  config: Pick<BrokerConfig, "knownHostsFiles">,
  env: Env,
): Promise<ConnectOptions> {
  const s = profile.settings;
  const keys = s.authMethods.includes("publickey");
  const passwords = s.authMethods.includes("password") ||
    s.authMethods.includes("keyboard-interactive");
  const explicit = profile.identityFiles.length > 0;
  const pin = profile.hostKeyFile === undefined ? undefined : await pinFile(profile, env);
  const opts: ConnectOptions = {
    host: profile.host,
    port: profile.port,
    user: s.user || localUser(env),
    identityFiles: !keys
      ? []
      : explicit
      ? profile.identityFiles
      : defaultIdentityFiles(homeDir(env)),
    explicitIdentities: explicit,
    hostKeyPolicy: pin ? "strict" : s.hostKeyPolicy,
    knownHostsFiles: pin ? [pin] : config.knownHostsFiles,
    connectTimeout: s.tcpConnectTimeout,
    keepaliveInterval: s.keepaliveInterval,
    keepaliveCountMax: KEEPALIVE_COUNT_MAX,
  };
  if (s.ciphers.length > 0) opts.ciphers = s.ciphers;
  if (s.macs.length > 0) opts.macs = s.macs;
  if (s.kexs.length > 0) opts.kexs = s.kexs;
  if (s.hostKeyAlgorithms.length > 0) opts.hostKeyAlgorithms = s.hostKeyAlgorithms;
  if (s.compression) opts.compression = true;
  if (s.proxy) opts.proxyRules = s.proxy.rules;
  opts.authMethods = s.authMethods.filter((m): m is AuthMethodName =>
    (DEFAULT_AUTH_METHODS as readonly string[]).includes(m)
  );
  const agent = env("SSH_AUTH_SOCK");
  if (keys && agent) opts.agentSocket = agent;
  if (passwords && profile.passwordSource !== undefined) {
    opts.passwordSource = profile.passwordSource;
  }
  return opts;
}

/** The key blobs in a .pub or known_hosts file: every "TYPE BASE64" pair found. */
export function pinnedKeys(text: string, file: string): Uint8Array[] {
  const keys: Uint8Array[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const fields = line.split(/\s+/);
    for (let i = 0; i + 1 < fields.length; i++) {
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(fields[i + 1])) continue;
      const blob = new Uint8Array(Buffer.from(fields[i + 1], "base64"));
      try {
        if (keyTypeOfBlob(blob) === fields[i]) {
          keys.push(blob);
          break;
        }
      } catch { /* not a key */ }
    }
  }
  if (keys.length === 0) {
    throw new ConfigError(`${file}: no public key found (expected a .pub or known_hosts file)`);
  }
  return keys;
}

/** Write the profile's pinned key(s) as a known_hosts file; returns its path. */
async function pinFile(profile: ProfileConfig, env: Env): Promise<string> {
  const file = profile.hostKeyFile!;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (err) {
    const where = `${profile.source.file}:${profile.source.line}:${profile.source.col}`;
    throw new ConfigError(
      `${where}: cannot read the host key file ${file} of profile '${profile.id}': ${
        fileProblem(err)
      }`,
    );
  }
  const lines = pinnedKeys(text, file).map((k) =>
    formatKnownHostsLine(profile.host, profile.port, k)
  );
  const content = lines.join("\n") + "\n";
  const dir = `${runtimeDir(env)}/pins`;
  await ensurePrivateDir(runtimeDir(env));
  await ensurePrivateDir(dir);
  const name = createHash("sha256").update(content).digest("hex").slice(0, 32);
  const path = `${dir}/${name}.known_hosts`;
  await Deno.writeTextFile(path, content, { mode: 0o600 });
  return path;
}

/**
 * A tunnel of the config as a -L/-R spec: allow-relay="yes" without an
 * address listens on every interface (`*`); "no" keeps the default
 * (loopback here, the server's loopback for a remote tunnel).
 */
export function forwardSpecOf(tunnel: TunnelConfig): ForwardSpec {
  const spec: ForwardSpec = { protocol: tunnel.type, listenPort: tunnel.listenPort };
  const address = tunnel.listenAddress ?? (tunnel.allowRelay ? "*" : undefined);
  if (address !== undefined) spec.listenAddress = address;
  if (tunnel.dstHost !== undefined) {
    spec.dstHost = tunnel.dstHost;
    spec.dstPort = tunnel.dstPort;
  }
  return spec;
}
