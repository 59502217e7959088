/**
 * What a client may forward, as sshd's PermitOpen / PermitListen and the
 * authorized_keys options permitopen= / permitlisten= say it:
 *
 *   open:    host:port        `*` for any host or any port; IPv6 in brackets
 *   listen:  [host:]port      host is a pattern (`*`, `?`); no host = any
 *                             address; port `*` = any port including 0 (the
 *                             server picks), port 0 = only server-picked ports
 *
 * An open permit's host is compared with the destination exactly as the
 * client sent it (case-insensitive, no name lookup): `localhost:80` does not
 * permit `127.0.0.1:80`. A listen permit's host is matched against the
 * address the client asked for; OpenSSH and warren send `localhost` when the
 * user gave none. `undefined` as a permit list means "no restriction".
 *
 * Parsers throw SyntaxError with a message naming the text; callers add where
 * it came from.
 */
import { wildcardMatch } from "../config/known_hosts.ts";

export interface OpenPermit {
  /** Lowercase host or address without brackets; "*" = any. */
  host: string;
  port: number | "*";
}

export interface ListenPermit {
  /** Lowercase host pattern; "*" = any address. */
  host: string;
  port: number | "*";
}

const PORT_RE = /^\d{1,5}$/;
const HOST_RE = /^[A-Za-z0-9_*?]([A-Za-z0-9_.*?-]*)?$/;

function parsePermitPort(text: string, min: number, what: string): number | "*" {
  if (text === "*") return "*";
  if (!PORT_RE.test(text) || Number(text) < min || Number(text) > 65535) {
    throw new SyntaxError(`${what}: '${text}' is not a port (${min}-65535 or *)`);
  }
  return Number(text);
}

/** Split "host:port" / "[v6]:port"; the host part may be missing ("port"). */
function splitHostPort(text: string, what: string): { host?: string; port: string } {
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0 || text[close + 1] !== ":") {
      throw new SyntaxError(`${what}: expected [address]:port`);
    }
    const host = text.slice(1, close);
    if (!/^[0-9A-Fa-f:.]+$/.test(host) || !host.includes(":")) {
      throw new SyntaxError(`${what}: '${host}' is not an IPv6 address`);
    }
    return { host, port: text.slice(close + 2) };
  }
  const colon = text.indexOf(":");
  if (colon < 0) return { port: text };
  if (text.indexOf(":", colon + 1) >= 0) {
    throw new SyntaxError(`${what}: an IPv6 address goes in brackets ([::1]:80)`);
  }
  const host = text.slice(0, colon);
  if (!HOST_RE.test(host)) throw new SyntaxError(`${what}: '${host}' is not a host name`);
  return { host, port: text.slice(colon + 1) };
}

/** Parse "host:port" (permitopen=, --permit-open). */
export function parseOpenPermit(text: string): OpenPermit {
  const what = `Invalid permit-open '${text}'`;
  const { host, port } = splitHostPort(text, what);
  if (host === undefined || host === "") throw new SyntaxError(`${what}: expected host:port`);
  if (host !== "*" && /[*?]/.test(host)) {
    throw new SyntaxError(`${what}: host names are literal here (only a lone * means any)`);
  }
  return { host: host.toLowerCase(), port: parsePermitPort(port, 1, what) };
}

/** Parse "[host:]port" (permitlisten=, --permit-listen). */
export function parseListenPermit(text: string): ListenPermit {
  const what = `Invalid permit-listen '${text}'`;
  const { host, port } = splitHostPort(text, what);
  if (host === "") throw new SyntaxError(`${what}: empty host (leave it out for any address)`);
  return { host: (host ?? "*").toLowerCase(), port: parsePermitPort(port, 0, what) };
}

/** Whether a direct-tcpip to host:port is allowed by the list. */
export function openAllowed(
  permits: OpenPermit[] | undefined,
  host: string,
  port: number,
): boolean {
  if (permits === undefined) return true;
  const h = host.toLowerCase();
  return permits.some((p) =>
    (p.port === "*" || p.port === port) && (p.host === "*" || p.host === h)
  );
}

/** Whether a tcpip-forward on address:port is allowed by the list. */
export function listenAllowed(
  permits: ListenPermit[] | undefined,
  address: string,
  port: number,
): boolean {
  if (permits === undefined) return true;
  const a = address.toLowerCase();
  return permits.some((p) => (p.port === "*" || p.port === port) && wildcardMatch(a, p.host));
}

/** "host:port" for a permit, brackets around IPv6, for messages. */
export function formatPermit(p: OpenPermit | ListenPermit): string {
  return `${p.host.includes(":") ? `[${p.host}]` : p.host}:${p.port}`;
}
