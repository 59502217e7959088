/**
 * Jump hosts as written after `-J` or in `ProxyJump`: a comma-separated list,
 * outermost first, of `[user@]host[:port]` (OpenSSH), `[user@]host[#port]`
 * (sshg3's form) or `ssh://[user@]host[:port]`. An IPv6 address takes
 * brackets when a port follows a colon (`[::1]:2222`) and may stand bare
 * before `#port` (`::1#2222`). `none` means no jump host at all (it lets a
 * command line undo a jump host set elsewhere).
 */
import { UsageError } from "../errors.ts";
import { parsePort } from "./forward.ts";

export interface JumpHost {
  user?: string;
  host: string;
  port?: number;
}

const NAME_RE = /^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?$/;
const IPV6_RE = /^[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?$/;

/** Parse a jump host list; `what` starts each error ("Invalid -J 'a,b'"). */
export function parseJumpHosts(text: string, what: string): JumpHost[] {
  if (text.trim().toLowerCase() === "none") return [];
  return text.split(",").map((part) => parseOne(part.trim(), what));
}

function parseOne(text: string, what: string): JumpHost {
  if (text === "") throw new UsageError(`${what}: empty jump host`);
  let rest = text.startsWith("ssh://") ? text.slice("ssh://".length).replace(/\/$/, "") : text;
  let user: string | undefined;
  const at = rest.lastIndexOf("@");
  if (at >= 0) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (user === "") throw new UsageError(`${what}: empty user in '${text}'`);
  }
  let host = rest;
  let portText: string | undefined;
  const bracket = /^\[([^\]]*)\](?:[:#](.*))?$/.exec(rest);
  if (bracket) {
    host = bracket[1];
    portText = bracket[2];
  } else if (rest.includes("#")) {
    const hash = rest.lastIndexOf("#");
    host = rest.slice(0, hash);
    portText = rest.slice(hash + 1);
  } else if ((rest.match(/:/g) ?? []).length === 1) {
    [host, portText] = rest.split(":");
  }
  if (host === "") throw new UsageError(`${what}: missing host in '${text}'`);
  if (!(host.includes(":") ? IPV6_RE.test(host) : NAME_RE.test(host))) {
    throw new UsageError(`${what}: bad host name '${host}'`);
  }
  const hop: JumpHost = { host };
  if (user !== undefined) hop.user = user;
  if (portText !== undefined) hop.port = parsePort(portText, what, 1);
  return hop;
}

/** The hop as the user would write it, for messages: "user@host:port". */
export function formatJumpHost(hop: JumpHost): string {
  const host = hop.host.includes(":") ? `[${hop.host}]` : hop.host;
  return `${hop.user ? `${hop.user}@` : ""}${host}${hop.port ? `:${hop.port}` : ""}`;
}
