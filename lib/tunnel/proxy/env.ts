/**
 * The proxy variables handed to programs (`--` mode, `warren ctl env`), the
 * transparent-tunneling analog for every program that honours them:
 *
 *   ALL_PROXY   socks5h://HOST:PORT   (names go to the far side unresolved)
 *   HTTP_PROXY  http://HOST:PORT
 *   HTTPS_PROXY http://HOST:PORT      (CONNECT)
 *   NO_PROXY    the `direct` routes NO_PROXY can express
 *
 * each also in lower case (curl reads only `http_proxy` in lower case).
 *
 * NO_PROXY only saves a hop: whatever reaches the proxy is routed by the
 * same rules. So it must never name a host a rule would tunnel or block:
 * only `direct` rules before the first other rule are taken, without a port
 * range, and only the forms every reader takes the same way: `*`,
 * `*.domain` (as `.domain`) and address blocks (CIDR: curl 7.86+, Go,
 * Python). A plain name is left out: NO_PROXY would take its subdomains too.
 */
import { formatAddress } from "../../config/forward.ts";
import type { Route } from "../../config/routes.ts";

export const PROXY_VARIABLES = ["ALL_PROXY", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"] as const;

/** The address clients here should use for a proxy bound on `addresses`. */
export function clientAddress(addresses: { hostname: string; port: number }[]): string {
  const loopback = addresses.find((a) => a.hostname === "127.0.0.1") ?? addresses[0];
  const wild = loopback.hostname === "0.0.0.0" || loopback.hostname === "::";
  return `${wild ? "127.0.0.1" : formatAddress(loopback.hostname)}:${loopback.port}`;
}

/** The NO_PROXY entries the routes allow (see above). */
export function noProxyEntries(routes: readonly Route[]): string[] {
  const out: string[] = [];
  for (const r of routes) {
    if (r.action !== "direct") break;
    if (r.ports) continue;
    const h = r.host;
    if ("any" in h) out.push("*");
    else if ("block" in h && h.cidr) out.push(h.cidr);
    else if ("wildcard" in h && /^\*\.[^*?]+$/.test(h.wildcard)) out.push(h.wildcard.slice(1));
  }
  return out;
}

/**
 * The variables for a proxy at `address` ("host:port"); `inheritedNoProxy`
 * (the caller's NO_PROXY) is kept in front of the routes' entries.
 */
export function proxyEnvironment(
  address: string,
  routes: readonly Route[] = [],
  inheritedNoProxy?: string,
): Record<string, string> {
  const vars: Record<string, string> = {
    ALL_PROXY: `socks5h://${address}`,
    HTTP_PROXY: `http://${address}`,
    HTTPS_PROXY: `http://${address}`,
  };
  const entries = noProxyEntries(routes);
  if (entries.length > 0) {
    vars.NO_PROXY = [...(inheritedNoProxy ? [inheritedNoProxy] : []), ...entries].join(",");
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(vars)) {
    out[k] = v;
    out[k.toLowerCase()] = v;
  }
  return out;
}

/** `export NAME='value'` lines for a POSIX shell. */
export function shellExports(vars: Record<string, string>): string {
  return Object.entries(vars)
    .map(([k, v]) => `export ${k}='${v.replaceAll("'", "'\\''")}'`)
    .join("\n");
}
