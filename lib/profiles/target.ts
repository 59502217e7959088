/**
 * A profile as the client's target: `warren [options] PROFILE`. When the
 * target is a bare word (no user@, #port or ssh://) and the config file
 * (--config, $WARREN_CONFIG, ~/.ssh2/ssh-broker-config.xml) has a profile
 * with that id or name, the run takes the profile's host, port, user, keys,
 * password source, host key settings, keepalive, connect timeout, gateway
 * chain and `<tunnels>`; options on the command line override them (-L/-R
 * add to the profile's tunnels). Anything else is a host name, as before.
 * parseClientCommandLine() (lib/commands/client.ts) does the lookup.
 */
import type { Env } from "../config/env.ts";
import type { ProfileLayer, SettingsLayer } from "./client_config.ts";
import { type BrokerConfig, gatewayChain, type ProfileConfig } from "../config/tectia/model.ts";
import { connectOptionsFor, forwardSpecOf } from "./connect.ts";

/** Whether a target could name a profile rather than user@host#port. */
export function isProfileCandidate(target: string): boolean {
  return target !== "" && !/[@#]/.test(target) && !target.startsWith("ssh://");
}

/**
 * The command-line layer for a host target (`user@host#port`) when a config
 * file is read: its `<default-settings>` and `<general><known-hosts>`, as
 * sshg3 takes them from the broker's configuration. The host, port and user
 * of the target stay the command line's.
 */
export async function defaultsLayer(config: BrokerConfig, env: Env): Promise<SettingsLayer> {
  const asProfile: ProfileConfig = {
    id: "",
    host: "",
    port: 22,
    connectOnStartup: false,
    identityFiles: [],
    settings: config.defaults,
    tunnels: [],
    source: { file: config.file, line: 1, col: 1 },
  };
  const opts = await connectOptionsFor(asProfile, config, env);
  const layer: SettingsLayer = {
    hostKeyPolicy: opts.hostKeyPolicy,
    knownHostsFiles: opts.knownHostsFiles,
    serverAliveInterval: opts.keepaliveInterval,
    connectTimeout: opts.connectTimeout,
  };
  if (config.defaults.user !== undefined) layer.user = config.defaults.user;
  if (opts.ciphers !== undefined) layer.ciphers = opts.ciphers;
  if (opts.macs !== undefined) layer.macs = opts.macs;
  if (opts.kexs !== undefined) layer.kexs = opts.kexs;
  if (opts.hostKeyAlgorithms !== undefined) layer.hostKeyAlgorithms = opts.hostKeyAlgorithms;
  if (opts.authMethods !== undefined) layer.authMethods = [...opts.authMethods];
  return layer;
}

/** The command-line layer for a profile (see parseCommandLine). */
export async function profileLayer(
  config: BrokerConfig,
  profile: ProfileConfig,
  env: Env,
): Promise<ProfileLayer> {
  const opts = await connectOptionsFor(profile, config, env);
  const hops = gatewayChain(config, profile).slice(0, -1);
  const layer: ProfileLayer = {
    host: opts.host,
    port: opts.port,
    user: opts.user,
    identityFiles: profile.identityFiles,
    hostKeyPolicy: opts.hostKeyPolicy,
    knownHostsFiles: opts.knownHostsFiles,
    serverAliveInterval: opts.keepaliveInterval,
    connectTimeout: opts.connectTimeout,
    localForwards: profile.tunnels.filter((t) => t.direction === "local").map(forwardSpecOf),
    remoteForwards: profile.tunnels.filter((t) => t.direction === "remote").map(forwardSpecOf),
  };
  if (opts.passwordSource !== undefined) layer.passwordSource = opts.passwordSource;
  if (opts.ciphers !== undefined) layer.ciphers = opts.ciphers;
  if (opts.macs !== undefined) layer.macs = opts.macs;
  if (opts.kexs !== undefined) layer.kexs = opts.kexs;
  if (opts.hostKeyAlgorithms !== undefined) layer.hostKeyAlgorithms = opts.hostKeyAlgorithms;
  if (opts.authMethods !== undefined) layer.authMethods = [...opts.authMethods];
  if (opts.compression) layer.compression = true;
  if (opts.proxyRules) layer.proxyRules = opts.proxyRules;
  if (hops.length > 0) {
    layer.gateways = await Promise.all(hops.map((p) => connectOptionsFor(p, config, env)));
  }
  return layer;
}
