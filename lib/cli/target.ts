/**
 * The connection target: `[user@]host[#port]` (sshg3) or
 * `ssh://[user@]host[:port]` (URI form, RFC 4248 style). An IPv6 host may be
 * written bare (`::1#2222`) or in brackets (`[::1]#2222`, `ssh://[::1]:22`).
 */
import { UsageError } from "../errors.ts";
import { parsePort } from "../config/forward.ts";

export interface Target {
  user?: string;
  host: string;
  port?: number;
}

const HOST_RE = /^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?$/;
const IPV6_RE = /^[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?$/;

function checkHost(host: string, text: string): string {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  // An IPv6 address has at least two colons: one colon is OpenSSH's or scp's
  // "host:port", which sshg3's grammar writes "host#port".
  const hostColonPort = /^([^:]*):(\d*)$/.exec(host);
  if (hostColonPort) {
    const [, name, port] = hostColonPort;
    const user = text.includes("@") ? text.slice(0, text.lastIndexOf("@") + 1) : "";
    throw new UsageError(
      `Invalid target '${text}': a port goes after '#' (${user}${name}#${port || "PORT"}) ` +
        `or in -p ${port || "PORT"}`,
    );
  }
  const ipv6 = bare.split(":").length > 2 && IPV6_RE.test(bare);
  if (bare.includes(":") ? ipv6 : HOST_RE.test(bare)) {
    return bare;
  }
  throw new UsageError(`Invalid target '${text}': bad host name '${host}'`);
}

function splitUser(text: string, rest: string): [string | undefined, string] {
  const at = rest.lastIndexOf("@");
  if (at < 0) return [undefined, rest];
  const user = rest.slice(0, at);
  if (user === "") throw new UsageError(`Invalid target '${text}': empty user`);
  return [decodeURIComponentSafe(user), rest.slice(at + 1)];
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function parseTarget(text: string): Target {
  if (text.startsWith("ssh://")) {
    let rest = text.slice("ssh://".length).replace(/\/$/, "");
    if (rest.includes("/")) {
      throw new UsageError(`Invalid target '${text}': unexpected path`);
    }
    const [user, hostPart] = splitUser(text, rest);
    rest = hostPart;
    let port: number | undefined;
    const m = /^(\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(rest);
    if (!m || m[1] === "") {
      throw new UsageError(`Invalid target '${text}': missing host`);
    }
    if (m[2] !== undefined) {
      port = parsePort(m[2], `Invalid target '${text}'`, 1);
    }
    return { user, host: checkHost(m[1], text), port };
  }
  const [user, hostPart] = splitUser(text, text);
  const hash = hostPart.lastIndexOf("#");
  const host = hash < 0 ? hostPart : hostPart.slice(0, hash);
  if (host === "") {
    throw new UsageError(`Invalid target '${text}': missing host`);
  }
  const port = hash < 0
    ? undefined
    : parsePort(hostPart.slice(hash + 1), `Invalid target '${text}'`, 1);
  return { user, host: checkHost(host, text), port };
}
