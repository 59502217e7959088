/**
 * A proxy to reach the SSH server through, as `--proxy URL` or
 * `-o ProxyUrl=URL` write it:
 *
 *   http://[user@]host:port      HTTP CONNECT (Basic authentication with a user)
 *   socks5://[user@]host[:port]  SOCKS5, the name resolved by the proxy
 *                                (user/password authentication with a user)
 *   socks4a://[user@]host[:port] SOCKS4a, the name resolved by the proxy (the
 *                                user is SOCKS4's user id)
 *   socks4://[user@]host[:port]  SOCKS4, for proxies without 4a: the name is
 *                                resolved here (IPv4 only)
 *
 * SOCKS ports default to 1080; an HTTP proxy's port must be given (no one
 * port is usual). A password in the URL is refused: it would be visible to
 * every user of the machine; it comes from --proxy-password SOURCE.
 */
import { UsageError } from "../errors.ts";
import { parsePort } from "./forward.ts";

export type ProxyScheme = "http" | "socks5" | "socks4a" | "socks4";

export interface ProxyUrl {
  scheme: ProxyScheme;
  host: string;
  port: number;
  user?: string;
}

const SCHEMES: readonly ProxyScheme[] = ["http", "socks5", "socks4a", "socks4"];
const NAME_RE = /^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?$/;
const IPV6_RE = /^[0-9A-Fa-f:.]+$/;

/** Parse a proxy URL; `what` starts each error ("Invalid --proxy 'URL'"). */
export function parseProxyUrl(text: string, what: string): ProxyUrl {
  const m = /^([A-Za-z0-9]+):\/\/(.*?)\/?$/.exec(text);
  if (!m) throw new UsageError(`${what}: expected http://, socks5:// or socks4a://HOST:PORT`);
  const scheme = m[1].toLowerCase() as ProxyScheme;
  if (!SCHEMES.includes(scheme)) {
    throw new UsageError(
      `${what}: unknown scheme '${m[1]}' (known: http, socks5, socks4a, socks4)`,
    );
  }
  let rest = m[2];
  let user: string | undefined;
  const at = rest.lastIndexOf("@");
  if (at >= 0) {
    user = decode(rest.slice(0, at));
    rest = rest.slice(at + 1);
    if (user.includes(":")) {
      throw new UsageError(
        `${what}: no password in the URL (it would be visible to other users); ` +
          "use --proxy-password file://PATH, env://VAR or extprog://COMMAND",
      );
    }
    if (user === "") throw new UsageError(`${what}: empty user`);
    if (new TextEncoder().encode(user).length > 255) {
      throw new UsageError(`${what}: the user name is longer than 255 bytes`);
    }
  }
  const hp = /^(?:\[([^\]]+)\]|([^:[\]]*))(?::(.*))?$/.exec(rest);
  if (!hp) throw new UsageError(`${what}: bad host '${rest}'`);
  const host = hp[1] ?? hp[2];
  if (host === "") throw new UsageError(`${what}: missing host`);
  if (!(hp[1] !== undefined ? IPV6_RE.test(host) : NAME_RE.test(host))) {
    throw new UsageError(`${what}: bad host name '${host}'`);
  }
  let port: number;
  if (hp[3] !== undefined) port = parsePort(hp[3], what, 1);
  else if (scheme === "http") throw new UsageError(`${what}: missing port (http://HOST:PORT)`);
  else port = 1080;
  const url: ProxyUrl = { scheme, host, port };
  if (user !== undefined) url.user = user;
  return url;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
