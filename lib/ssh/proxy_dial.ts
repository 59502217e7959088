/**
 * Reaching the SSH server through a proxy, built in (--proxy URL): a TCP
 * connection to the proxy, then its handshake, and the connection is the
 * server's from there on.
 *
 * - HTTP: `CONNECT host:port HTTP/1.1`, with `Proxy-Authorization: Basic`
 *   when a user is given; any 2xx is success.
 * - SOCKS5 (RFC 1928): no authentication, or user/password (RFC 1929) when a
 *   user is given; the host name goes to the proxy unresolved (ATYP 3).
 * - SOCKS4a: the host name goes to the proxy (0.0.0.1 plus the name); the
 *   user is SOCKS4's user id. SOCKS4 (for proxies without 4a, and Tectia's
 *   `socks4://` rules): the name is resolved here to an IPv4 address.
 *
 * A refusal is one line naming the proxy, what was asked and the proxy's
 * answer: "Proxy 10.0.0.1:3128 refused CONNECT bastion:22: 407 Proxy
 * Authentication Required". Bytes the server sent right behind the proxy's
 * answer (its SSH banner) are kept for ssh2.
 */
import { Buffer } from "node:buffer";
import type { ProxyUrl } from "../config/proxy_url.ts";
import { hostPort } from "../config/forward.ts";
import { messageOf, WarrenError } from "../errors.ts";
import { writeAll } from "../net/io.ts";

export interface ProxyDial {
  proxy: ProxyUrl;
  /** The password for the proxy's user, read from its source beforehand. */
  password?: string;
}

/** Reads whole messages off a connection, keeping what comes after. */
class Reader {
  #buf = new Uint8Array(0);
  constructor(private conn: Deno.Conn, private closed: () => WarrenError) {}

  async #more(): Promise<void> {
    const chunk = new Uint8Array(16 * 1024);
    const n = await this.conn.read(chunk);
    if (n === null) throw this.closed();
    const next = new Uint8Array(this.#buf.length + n);
    next.set(this.#buf);
    next.set(chunk.subarray(0, n), this.#buf.length);
    this.#buf = next;
  }

  async exact(n: number): Promise<Uint8Array> {
    while (this.#buf.length < n) await this.#more();
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.slice(n);
    return out;
  }

  /** Up to and including `\r\n\r\n`, at most `limit` bytes. */
  async headers(limit: number, tooLong: () => WarrenError): Promise<string> {
    for (;;) {
      const text = new TextDecoder("latin1").decode(this.#buf);
      const end = text.indexOf("\r\n\r\n");
      if (end >= 0) {
        this.#buf = this.#buf.slice(end + 4);
        return text.slice(0, end);
      }
      if (this.#buf.length > limit) throw tooLong();
      await this.#more();
    }
  }

  get leftover(): Uint8Array {
    return this.#buf;
  }
}

const SOCKS5_REPLIES: Record<number, string> = {
  1: "general failure",
  2: "not allowed by the proxy's rules",
  3: "network unreachable",
  4: "host unreachable",
  5: "connection refused",
  6: "TTL expired",
  7: "command not supported",
  8: "address type not supported",
};

const SOCKS4_REPLIES: Record<number, string> = {
  0x5b: "request rejected or failed",
  0x5c: "rejected: the proxy cannot reach our identd",
  0x5d: "rejected: identd reports a different user",
};

/**
 * Run the proxy's handshake on `conn` (already connected to the proxy) for
 * `host:port`; returns the bytes read past the proxy's answer.
 */
export async function proxyHandshake(
  conn: Deno.Conn,
  dial: ProxyDial,
  host: string,
  port: number,
): Promise<Uint8Array> {
  const { proxy } = dial;
  const where = hostPort(proxy.host, proxy.port);
  const target = hostPort(host, port);
  const refused = (why: string) =>
    new WarrenError("connect", `Proxy ${where} refused CONNECT ${target}: ${why}`);
  const reader = new Reader(
    conn,
    () => refused("the proxy closed the connection"),
  );
  switch (proxy.scheme) {
    case "http": {
      const auth = proxy.user === undefined
        ? ""
        : `Proxy-Authorization: Basic ${
          Buffer.from(`${proxy.user}:${dial.password ?? ""}`).toString("base64")
        }\r\n`;
      await writeAll(
        conn,
        new TextEncoder().encode(
          `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${auth}\r\n`,
        ),
      );
      const head = await reader.headers(
        16 * 1024,
        () => refused("the proxy's answer is not HTTP"),
      );
      const status = /^HTTP\/1\.[01] (\d{3})(?: ([^\r\n]*))?/.exec(head);
      if (!status) {
        throw refused(`not an HTTP answer: '${head.split("\r\n")[0].slice(0, 80)}'`);
      }
      if (!status[1].startsWith("2")) {
        throw refused(`${status[1]}${status[2] ? ` ${status[2].trim()}` : ""}`);
      }
      return reader.leftover;
    }
    case "socks5": {
      const user = proxy.user === undefined ? undefined : new TextEncoder().encode(proxy.user);
      await writeAll(conn, new Uint8Array(user ? [5, 2, 0, 2] : [5, 1, 0]));
      const [version, method] = await reader.exact(2);
      if (version !== 5) throw refused("not a SOCKS5 proxy");
      if (method === 0xff) {
        throw refused(
          user
            ? "no acceptable authentication method"
            : "it wants authentication (give the user in the URL: socks5://USER@HOST:PORT)",
        );
      }
      if (method === 2) {
        if (!user) throw refused("it wants a user and password");
        const pass = new TextEncoder().encode(dial.password ?? "");
        if (pass.length > 255) throw refused("the password is longer than 255 bytes");
        await writeAll(conn, new Uint8Array([1, user.length, ...user, pass.length, ...pass]));
        const [, ok] = await reader.exact(2);
        if (ok !== 0) throw refused(`authentication as ${proxy.user} failed`);
      } else if (method !== 0) {
        throw refused(`it chose authentication method ${method}, which warren does not offer`);
      }
      const name = new TextEncoder().encode(host);
      if (name.length > 255) throw refused("the host name is longer than 255 bytes");
      await writeAll(
        conn,
        new Uint8Array([5, 1, 0, 3, name.length, ...name, port >> 8, port & 0xff]),
      );
      const [v, rep, , atyp] = await reader.exact(4);
      if (v !== 5) throw refused("not a SOCKS5 answer");
      if (rep !== 0) throw refused(`SOCKS5 reply ${rep} (${SOCKS5_REPLIES[rep] ?? "unknown"})`);
      const addrLen = atyp === 1
        ? 4
        : atyp === 4
        ? 16
        : atyp === 3
        ? (await reader.exact(1))[0]
        : -1;
      if (addrLen < 0) throw refused(`SOCKS5 answer with address type ${atyp}`);
      await reader.exact(addrLen + 2);
      return reader.leftover;
    }
    case "socks4":
    case "socks4a": {
      const userId = new TextEncoder().encode(proxy.user ?? "");
      const name = new TextEncoder().encode(host);
      const address = proxy.scheme === "socks4" ? await ipv4Of(host, refused) : undefined;
      await writeAll(
        conn,
        new Uint8Array(
          address
            ? [4, 1, port >> 8, port & 0xff, ...address, ...userId, 0]
            : [4, 1, port >> 8, port & 0xff, 0, 0, 0, 1, ...userId, 0, ...name, 0],
        ),
      );
      const [vn, cd] = await reader.exact(8);
      if (vn !== 0) throw refused("not a SOCKS4 answer");
      if (cd !== 0x5a) {
        throw refused(`SOCKS4 reply ${cd} (${SOCKS4_REPLIES[cd] ?? "unknown"})`);
      }
      return reader.leftover;
    }
    default:
      return proxy.scheme satisfies never;
  }
}

/** SOCKS4 carries an IPv4 address only: the name is resolved here. */
async function ipv4Of(host: string, refused: (why: string) => WarrenError): Promise<number[]> {
  let address = /^\d+\.\d+\.\d+\.\d+$/.test(host) ? host : undefined;
  if (address === undefined) {
    try {
      address = (await Deno.resolveDns(host, "A"))[0];
    } catch (err) {
      throw refused(
        `SOCKS4 needs an IPv4 address and '${host}' did not resolve: ${messageOf(err)}`,
      );
    }
    if (address === undefined) throw refused(`SOCKS4 needs an IPv4 address; '${host}' has none`);
  }
  return address.split(".").map(Number);
}

/** Whether an error came from the proxy's handshake (a refusal) rather than the network. */
export function proxyFailure(
  err: unknown,
  dial: ProxyDial,
  host: string,
  port: number,
): WarrenError {
  if (err instanceof WarrenError) return err;
  return new WarrenError(
    "connect",
    `Proxy ${hostPort(dial.proxy.host, dial.proxy.port)} failed during CONNECT ${
      hostPort(host, port)
    }: ${messageOf(err)}`,
    { cause: err },
  );
}
