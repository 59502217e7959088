/**
 * The tunnel grammar of `-L` and `-R` (sshg3's, with OpenSSH's brackets):
 *
 *   [tcp/|ftp/][listen-address:]listen-port:dst-host:dst-port
 *   socks/[listen-address:]listen-port
 *   dns/[listen-address:]listen-port:resolver-host[:resolver-port]  (53)
 *
 * - An address is a host name, an IPv4 address, `*` (every interface) or an
 *   IPv6 address in square brackets: `[::1]:8080:[2001:db8::5]:80`.
 * - The protocol prefix is case-insensitive (`TCP/` as Tectia writes it);
 *   `tcp` is the default.
 * - listen-port 0 asks for any free port (the OS's locally, the server's for
 *   `-R`); dst-port is 1–65535.
 *
 * OpenSSH's Unix domain socket forms (tcp only): a path in place of the
 * listen side, the destination, or both; a path starts with `/`, `./` or
 * `../` and cannot contain ':'.
 *
 *   /path/local.sock:dst-host:dst-port      -L: listen on a socket here
 *   [listen-address:]listen-port:/path.sock -L: the server connects the path
 *   /path/remote.sock:dst-host:dst-port     -R: the server listens on a path
 *   [listen-address:]listen-port:/path.sock -R: connect a socket here
 *
 * `parseForward` and `formatForward` are pure and round-trip:
 * parseForward(formatForward(spec)) deep-equals spec.
 */
import { UsageError } from "../errors.ts";

export type ForwardProtocol = "tcp" | "ftp" | "socks" | "dns";

export interface ForwardSpec {
  protocol: ForwardProtocol;
  /** The address to listen on, without brackets; undefined = the default. */
  listenAddress?: string;
  /** 0 when listenPath is set. */
  listenPort: number;
  /** A Unix domain socket to listen on instead of an address and port. */
  listenPath?: string;
  /** Absent for socks and with dstPath. Without brackets. */
  dstHost?: string;
  dstPort?: number;
  /** A Unix domain socket to connect instead of dst-host:dst-port. */
  dstPath?: string;
}

/** Whether a part of a forward is a Unix socket path (OpenSSH: it contains '/'). */
export function isSocketPath(part: string): boolean {
  return part.startsWith("/") || part.startsWith("./") || part.startsWith("../");
}

/** The longest path a sockaddr_un holds (108 bytes with the NUL on Linux; 104 on macOS). */
export const MAX_SOCKET_PATH = 103;

function parsePath(part: string, what: string): string {
  if (new TextEncoder().encode(part).length > MAX_SOCKET_PATH) {
    throw new UsageError(
      `${what}: socket path '${part}' is too long (at most ${MAX_SOCKET_PATH} bytes)`,
    );
  }
  if (part.includes("\0") || part.endsWith("/")) {
    throw new UsageError(`${what}: '${part}' is not a socket path`);
  }
  return part;
}

/** The forms with a Unix socket path on either side (tcp only). */
function parseStreamLocal(parts: string[], what: string): ForwardSpec {
  const dstIsPath = isSocketPath(parts[parts.length - 1]);
  const listen = parts.slice(0, parts.length - (dstIsPath ? 1 : 2));
  const spec: ForwardSpec = { protocol: "tcp", listenPort: 0 };
  if (listen.length === 1 && isSocketPath(listen[0])) {
    spec.listenPath = parsePath(listen[0], what);
  } else if (listen.length === 1 || listen.length === 2) {
    if (listen.some(isSocketPath)) {
      throw new UsageError(`${what}: a socket path cannot follow a listen address`);
    }
    spec.listenPort = parsePort(listen[listen.length - 1], what);
    if (listen.length === 2) spec.listenAddress = parseAddress(listen[0], what);
  } else {
    throw new UsageError(
      `${what}: expected /path.sock:dst-host:dst-port or [listen-address:]listen-port:/path.sock`,
    );
  }
  if (dstIsPath) spec.dstPath = parsePath(parts[parts.length - 1], what);
  else {
    const [host, port] = parts.slice(-2);
    if (isSocketPath(host)) throw new UsageError(`${what}: a socket path is not a host`);
    spec.dstHost = parseAddress(host, what);
    spec.dstPort = parsePort(port, what, 1);
    if (spec.dstHost === "*") throw new UsageError(`${what}: '*' is not a destination host`);
  }
  return spec;
}

const PROTOCOLS: readonly ForwardProtocol[] = ["tcp", "ftp", "socks", "dns"];

/** The resolver port of a dns/ tunnel when none is given. */
export const DNS_PORT = 53;

/** Split on ':' outside square brackets; brackets stay in the parts. */
function splitColons(text: string, what: string): string[] {
  const parts: string[] = [];
  let current = "";
  let depth = 0;
  for (const ch of text) {
    if (ch === "[") {
      if (depth > 0) throw new UsageError(`${what}: nested '['`);
      depth++;
    } else if (ch === "]") {
      if (depth === 0) throw new UsageError(`${what}: unmatched ']'`);
      depth--;
    }
    if (ch === ":" && depth === 0) {
      parts.push(current);
      current = "";
    } else {
      current += ch;
    }
  }
  if (depth !== 0) throw new UsageError(`${what}: unmatched '['`);
  parts.push(current);
  return parts;
}

const HOST_RE = /^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?$/;
const IPV6_RE = /^[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?$/;

/** An address part: `[v6]`, `*`, a host name or IPv4 address. */
export function parseAddress(part: string, what: string): string {
  if (part.startsWith("[")) {
    const inner = part.slice(1, -1);
    if (!part.endsWith("]") || !inner.includes(":") || !IPV6_RE.test(inner)) {
      throw new UsageError(`${what}: '${part}' is not a valid IPv6 address`);
    }
    return inner;
  }
  if (part === "*") return part;
  if (part === "") throw new UsageError(`${what}: empty address`);
  if (part.includes(":")) {
    throw new UsageError(
      `${what}: IPv6 address '${part}' must be in square brackets`,
    );
  }
  if (!HOST_RE.test(part)) {
    throw new UsageError(`${what}: '${part}' is not a valid host name`);
  }
  return part;
}

/** A port number in [min, 65535]; decimal digits only. */
export function parsePort(part: string, what: string, min = 0): number {
  if (!/^\d{1,5}$/.test(part)) {
    throw new UsageError(`${what}: '${part}' is not a port number`);
  }
  const port = Number(part);
  if (port < min || port > 65535) {
    throw new UsageError(
      `${what}: port ${port} is out of range (${min}-65535)`,
    );
  }
  return port;
}

/** Parse one `-L`/`-R` value; `option` names it in errors ("-L"). */
export function parseForward(text: string, option = "-L"): ForwardSpec {
  const what = `Invalid ${option} '${text}'`;
  let rest = text;
  let protocol: ForwardProtocol = "tcp";
  const slash = rest.indexOf("/");
  // A prefix before any ':' is a protocol (a path there starts with '/' or '.').
  if (slash >= 0 && !isSocketPath(rest) && !/[:\[]/.test(rest.slice(0, slash))) {
    const name = rest.slice(0, slash).toLowerCase();
    if (!PROTOCOLS.includes(name as ForwardProtocol)) {
      throw new UsageError(
        `${what}: unknown protocol '${rest.slice(0, slash)}' (use tcp/, ftp/, socks/ or dns/)`,
      );
    }
    protocol = name as ForwardProtocol;
    rest = rest.slice(slash + 1);
  }
  const parts = splitColons(rest, what);
  if (parts.some(isSocketPath)) {
    if (protocol !== "tcp") {
      throw new UsageError(`${what}: Unix socket paths are for tcp tunnels only`);
    }
    return parseStreamLocal(parts, what);
  }
  if (protocol === "dns") return parseDns(parts, what);
  if (protocol === "socks") {
    if (parts.length > 2) {
      throw new UsageError(
        `${what}: socks/ takes only [listen-address:]listen-port`,
      );
    }
    const listenPort = parsePort(parts[parts.length - 1], what);
    const spec: ForwardSpec = { protocol, listenPort };
    if (parts.length === 2) {
      spec.listenAddress = parseAddress(parts[0], what);
    }
    return spec;
  }
  if (parts.length !== 3 && parts.length !== 4) {
    throw new UsageError(
      `${what}: expected [listen-address:]listen-port:dst-host:dst-port`,
    );
  }
  const off = parts.length - 3;
  const spec: ForwardSpec = {
    protocol,
    listenPort: parsePort(parts[off], what),
    dstHost: parseAddress(parts[off + 1], what),
    dstPort: parsePort(parts[off + 2], what, 1),
  };
  if (spec.dstHost === "*") {
    throw new UsageError(`${what}: '*' is not a destination host`);
  }
  if (off === 1) spec.listenAddress = parseAddress(parts[0], what);
  return spec;
}

/**
 * dns/[listen-address:]listen-port:resolver-host[:resolver-port]. Three parts
 * are port:host:port when the last is a number, else address:port:host.
 */
function parseDns(parts: string[], what: string): ForwardSpec {
  let listen: string[];
  let resolver: string[];
  if (parts.length === 2) [listen, resolver] = [parts.slice(0, 1), parts.slice(1)];
  else if (parts.length === 4) [listen, resolver] = [parts.slice(0, 2), parts.slice(2)];
  else if (parts.length === 3 && /^\d+$/.test(parts[2])) {
    [listen, resolver] = [parts.slice(0, 1), parts.slice(1)];
  } else if (parts.length === 3) [listen, resolver] = [parts.slice(0, 2), parts.slice(2)];
  else {
    throw new UsageError(
      `${what}: expected dns/[listen-address:]listen-port:resolver-host[:resolver-port]`,
    );
  }
  const spec: ForwardSpec = {
    protocol: "dns",
    listenPort: parsePort(listen[listen.length - 1], what),
    dstHost: parseAddress(resolver[0], what),
    dstPort: resolver.length === 2 ? parsePort(resolver[1], what, 1) : DNS_PORT,
  };
  if (spec.dstHost === "*") throw new UsageError(`${what}: '*' is not a resolver host`);
  if (listen.length === 2) spec.listenAddress = parseAddress(listen[0], what);
  return spec;
}

/** An address as it is written in the grammar: brackets around IPv6. */
export function formatAddress(address: string): string {
  return address.includes(":") ? `[${address}]` : address;
}

/** The canonical text of a spec (protocol prefix only when not tcp). */
export function formatForward(spec: ForwardSpec): string {
  const prefix = spec.protocol === "tcp" ? "" : `${spec.protocol}/`;
  const listen = spec.listenPath !== undefined
    ? spec.listenPath
    : spec.listenAddress === undefined
    ? `${spec.listenPort}`
    : `${formatAddress(spec.listenAddress)}:${spec.listenPort}`;
  if (spec.protocol === "socks") return `${prefix}${listen}`;
  if (spec.dstPath !== undefined) return `${listen}:${spec.dstPath}`;
  return `${prefix}${listen}:${formatAddress(spec.dstHost ?? "")}:${spec.dstPort ?? 0}`;
}

/** "host:port" with brackets around IPv6, for messages. */
export function hostPort(host: string, port: number): string {
  return `${formatAddress(host)}:${port}`;
}
