/**
 * `warren -G TARGET`: the effective settings, one `keyword value` line each,
 * in the form and with the keyword names of `ssh -G`, so the two can be
 * compared line by line. Values are warren's: its defaults where nothing was
 * set (ServerAliveInterval 30, ConnectTimeout 15, its cipher order, its
 * default keys), and warren's own settings after OpenSSH's (proxyurl).
 */
import type { ClientConfig } from "../profiles/client_config.ts";
import { defaultIdentityFiles, homeDir } from "../config/env.ts";
import type { Env } from "../config/env.ts";
import { formatAddress, type ForwardSpec } from "../config/forward.ts";
import { preferredCiphers } from "../ssh/crypto/hook.ts";
import type { HostKeyPolicy } from "../config/host_key_policy.ts";

const STRICT: Record<HostKeyPolicy, string> = {
  strict: "true",
  advisory: "false",
  tofu: "accept-new",
  ask: "ask",
};

const yesNo = (b: boolean | undefined) => b ? "yes" : "no";

/** `[addr]:port` or `port`, as ssh -G writes a forward's listening side. */
function listen(spec: ForwardSpec): string {
  return spec.listenAddress === undefined
    ? `${spec.listenPort}`
    : `[${spec.listenAddress}]:${spec.listenPort}`;
}

function forward(spec: ForwardSpec): string {
  return `${listen(spec)} [${spec.dstHost}]:${spec.dstPort}`;
}

export function formatEffectiveConfig(c: ClientConfig, env: Env): string {
  const lines: string[] = [
    `user ${c.user}`,
    `hostname ${c.host}`,
    `port ${c.port}`,
    `batchmode ${yesNo(c.batchMode)}`,
    `compression ${yesNo(c.compression)}`,
    `gatewayports ${yesNo(c.gateway)}`,
    `identitiesonly ${yesNo(c.identitiesOnly)}`,
    `ciphers ${(c.ciphers ?? preferredCiphers()).join(",")}`,
  ];
  const keys = c.identityFiles.length > 0 ? c.identityFiles : defaultIdentityFiles(homeDir(env));
  for (const key of keys) lines.push(`identityfile ${key}`);
  lines.push(`connecttimeout ${c.connectTimeout === 0 ? "none" : c.connectTimeout}`);
  if (c.jumps?.length) {
    lines.push(
      `proxyjump ${c.jumps.map((j) => `${j.user}@${formatAddress(j.host)}:${j.port}`).join(",")}`,
    );
  }
  if (c.proxyCommand !== undefined) lines.push(`proxycommand ${c.proxyCommand}`);
  if (c.proxy) {
    lines.push(
      `proxyurl ${c.proxy.scheme}://${c.proxy.user ? `${c.proxy.user}@` : ""}${
        formatAddress(c.proxy.host)
      }:${c.proxy.port}`,
    );
  }
  lines.push(
    `stricthostkeychecking ${STRICT[c.hostKeyPolicy]}`,
    `serveralivecountmax ${c.serverAliveCountMax}`,
    `serveraliveinterval ${c.serverAliveInterval}`,
    `exitonforwardfailure ${yesNo(c.abortOnFailingTunnel)}`,
  );
  for (const f of c.localForwards.filter((f) => f.protocol === "socks")) {
    lines.push(`dynamicforward ${listen(f)}`);
  }
  for (const f of c.localForwards.filter((f) => f.protocol !== "socks")) {
    lines.push(`localforward ${forward(f)}`);
  }
  for (const f of c.remoteForwards) lines.push(`remoteforward ${forward(f)}`);
  const [user, ...global] = c.knownHostsFiles;
  if (global.length > 0) lines.push(`globalknownhostsfile ${global.join(" ")}`);
  lines.push(`userknownhostsfile ${user}`);
  return lines.join("\n");
}
