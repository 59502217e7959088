/**
 * The client side of a socks/ connection, up to the point where a channel
 * can be opened: the first byte picks the protocol (0x04 SOCKS4, 0x05 SOCKS5,
 * anything else HTTP), the pure decoders in lib/protocols/ parse each message,
 * and this module does the reading and writing around them.
 *
 *   SOCKS4/4a  request                        (refused when auth is on)
 *   SOCKS5     greeting -> method [-> user/pass -> status] -> request
 *   HTTP       request head [Proxy-Authorization checked when auth is on]
 *
 * A decoder error sends the protocol's failure reply, if it has one; the
 * caller then closes. Nothing here has a timeout: the caller's handshake
 * deadline closes the connection, which ends any pending read.
 */
import { type Decoded } from "../../protocols/decoded.ts";
import {
  decodePacRequest,
  PAC_PATH,
  type PacRequest,
  pacResponse,
} from "../../protocols/pac_request.ts";
import {
  basicCredentials,
  connectEstablished,
  decodeHttpRequest,
  headerValue,
  type HttpProxyRequest,
  httpResponse,
  originRequest,
} from "../../protocols/http_proxy.ts";
import { httpStatus, type OpenFailure, socks5Code } from "../../protocols/open_failure.ts";
import {
  decodeSocks4,
  decodeSocks5Greeting,
  decodeSocks5Request,
  decodeUserPass,
  METHOD_NONE,
  METHOD_NOT_ACCEPTABLE,
  METHOD_USER_PASS,
  REP,
  SOCKS4_GRANTED,
  SOCKS4_REJECTED,
  socks4Reply,
  socks5Method,
  socks5Reply,
  userPassReply,
} from "../../protocols/socks.ts";
import type { ProxyCredentials } from "./auth.ts";
import { messageOf } from "../../errors.ts";
import { concat, writeAll } from "../../net/io.ts";

/** What a completed handshake asks for. */
export interface ProxyRequest {
  protocol: "SOCKS4" | "SOCKS4a" | "SOCKS5" | "HTTP CONNECT" | "HTTP";
  host: string;
  port: number;
  /** Bytes for the channel before the pump starts (the rewritten HTTP head, early data). */
  initial: Uint8Array;
  /** The reply once the channel is open; none for plain HTTP (the origin answers). */
  success?: Uint8Array;
  /** The reply when the channel cannot be opened. */
  failure(why: OpenFailure, message: string): Uint8Array;
}

/**
 * A failed handshake: `auth` when credentials were missing or wrong, `quiet`
 * when the client sent nothing at all (a port check, a browser's unused
 * preconnect): the caller logs that one at debug level only.
 */
export type HandshakeResult =
  | { ok: true; request: ProxyRequest }
  | { ok: false; message: string; auth?: boolean; quiet?: boolean; served?: boolean };

export interface HandshakeOptions {
  /** When set, every client must authenticate. */
  credentials?: ProxyCredentials;
  /** The address the client connected to, for success replies. */
  bound: { host: string; port: number };
  /** When set, `GET /proxy.pac` gets this PAC text (given the request's Host). */
  pac?: (host: string | undefined) => string;
}

const READ_SIZE = 16 * 1024;
const MAX_BUFFERED = 64 * 1024;

/** Accumulates what the client sends until a decoder is satisfied. */
/** What the handshake needs of a connection: a TCP one, or an SSH channel (channel_conn.ts). */
export type ProxyClientConn = Pick<Deno.Conn, "read" | "write">;

class ByteQueue {
  #conn: ProxyClientConn;
  #buf = new Uint8Array(0);
  /** Read into, then copied out of (a handshake takes two or three reads). */
  #chunk?: Uint8Array;
  /** Bytes read from the client so far. */
  received = 0;
  constructor(conn: ProxyClientConn) {
    this.#conn = conn;
  }

  /** Read until `decode` is done or fails; EOF is a failure. */
  async next<T>(
    decode: (buf: Uint8Array) => Decoded<T>,
  ): Promise<Exclude<Decoded<T>, { kind: "need-more" }>> {
    for (;;) {
      const r = decode(this.#buf);
      if (r.kind === "done") this.#buf = this.#buf.slice(r.used);
      if (r.kind !== "need-more") return r;
      // The decoders bound every message; this only guards against a bug.
      if (this.#buf.length > MAX_BUFFERED) return { kind: "error", message: "handshake too long" };
      const chunk = this.#chunk ??= new Uint8Array(READ_SIZE);
      const n = await this.#conn.read(chunk);
      if (n === null) {
        const when = this.received === 0 ? "before sending" : "during the handshake";
        return { kind: "error", message: `client closed ${when}` };
      }
      this.received += n;
      if (this.#buf.length === 0) this.#buf = chunk.slice(0, n);
      else {
        const grown = new Uint8Array(this.#buf.length + n);
        grown.set(this.#buf);
        grown.set(chunk.subarray(0, n), this.#buf.length);
        this.#buf = grown;
      }
    }
  }

  /** The bytes after the last decoded message. */
  rest(): Uint8Array {
    return this.#buf;
  }
}

/**
 * Run the client's handshake; writes every reply except the final one. A
 * failed read or write (the caller's deadline closing the connection, a
 * reset) is a failed handshake too: nothing is thrown.
 */
export async function handshake(
  conn: ProxyClientConn,
  options: HandshakeOptions,
): Promise<HandshakeResult> {
  const queue = new ByteQueue(conn);
  let result: HandshakeResult;
  try {
    const first = await queue.next((b) =>
      b.length > 0 ? { kind: "done", value: b[0], used: 0 } : { kind: "need-more" }
    );
    if (first.kind !== "done") result = { ok: false, message: first.message };
    else if (first.value === 0x04) result = await socks4(conn, queue, options);
    else if (first.value === 0x05) result = await socks5(conn, queue, options);
    else result = await http(conn, queue, options);
  } catch (err) {
    result = { ok: false, message: messageOf(err) };
  }
  if (!result.ok && queue.received === 0) result.quiet = true;
  return result;
}

/** Send a decoder's failure reply (if any) and report the failure. */
async function fail(conn: ProxyClientConn, r: { message: string; reply?: Uint8Array }) {
  if (r.reply) await writeAll(conn, r.reply);
  return { ok: false as const, message: r.message };
}

async function socks4(
  conn: ProxyClientConn,
  queue: ByteQueue,
  options: HandshakeOptions,
): Promise<HandshakeResult> {
  const r = await queue.next(decodeSocks4);
  if (r.kind !== "done") return fail(conn, r);
  if (options.credentials) {
    await writeAll(conn, socks4Reply(SOCKS4_REJECTED));
    return { ok: false, auth: true, message: "SOCKS4 refused: authentication is required" };
  }
  const { host, port, addressType } = r.value;
  return {
    ok: true,
    request: {
      protocol: addressType === "domain" ? "SOCKS4a" : "SOCKS4",
      host,
      port,
      initial: queue.rest(),
      success: socks4Reply(SOCKS4_GRANTED, options.bound),
      failure: () => socks4Reply(SOCKS4_REJECTED),
    },
  };
}

async function socks5(
  conn: ProxyClientConn,
  queue: ByteQueue,
  options: HandshakeOptions,
): Promise<HandshakeResult> {
  const greeting = await queue.next(decodeSocks5Greeting);
  if (greeting.kind !== "done") return fail(conn, greeting);
  const wanted = options.credentials ? METHOD_USER_PASS : METHOD_NONE;
  if (!greeting.value.includes(wanted)) {
    await writeAll(conn, socks5Method(METHOD_NOT_ACCEPTABLE));
    return options.credentials
      ? { ok: false, auth: true, message: "SOCKS5 refused: the client offers no password" }
      : { ok: false, message: "SOCKS5 client offers no method without authentication" };
  }
  // A client that sent its request with the greeting (as most do when no
  // password is asked) gets the method and the request's answer in one
  // write: one system call and one wake-up fewer on both sides.
  const method = socks5Method(wanted);
  // Decoded here once, and taken from the queue as it is below.
  const early = options.credentials ? undefined : decodeSocks5Request(queue.rest());
  const pipelined = early !== undefined && early.kind !== "need-more";
  if (!pipelined) await writeAll(conn, method);
  if (options.credentials) {
    const creds = await queue.next(decodeUserPass);
    if (creds.kind !== "done") return fail(conn, creds);
    const ok = options.credentials.check(creds.value.user, creds.value.password);
    await writeAll(conn, userPassReply(ok));
    if (!ok) return { ok: false, auth: true, message: "SOCKS5 authentication failed" };
  }
  const answer = (reply: Uint8Array) => pipelined ? concat([method, reply]) : reply;
  const r = await queue.next(pipelined ? () => early : decodeSocks5Request);
  if (r.kind !== "done") {
    return fail(conn, r.kind === "error" && r.reply ? { ...r, reply: answer(r.reply) } : r);
  }
  return {
    ok: true,
    request: {
      protocol: "SOCKS5",
      host: r.value.host,
      port: r.value.port,
      initial: queue.rest(),
      success: answer(socks5Reply(REP.succeeded, options.bound)),
      failure: (why) => answer(socks5Reply(socks5Code(why))),
    },
  };
}

async function http(
  conn: ProxyClientConn,
  queue: ByteQueue,
  options: HandshakeOptions,
): Promise<HandshakeResult> {
  const pac = options.pac;
  const r = await queue.next((b): Decoded<HttpProxyRequest | PacRequest> =>
    (pac ? decodePacRequest(b) : undefined) ?? decodeHttpRequest(b)
  );
  if (r.kind !== "done") return fail(conn, r);
  if (!("method" in r.value)) {
    await writeAll(conn, pacResponse(pac!(r.value.host), r.value.head));
    return { ok: false, served: true, message: `sent ${PAC_PATH}` };
  }
  const req = r.value;
  if (options.credentials) {
    const creds = basicCredentials(headerValue(req, "Proxy-Authorization"));
    if (!creds || !options.credentials.check(creds.user, creds.password)) {
      await writeAll(conn, httpResponse(407));
      return {
        ok: false,
        auth: true,
        message: creds ? "HTTP proxy authentication failed" : "HTTP proxy refused: no credentials",
      };
    }
  }
  const connect = req.method.toUpperCase() === "CONNECT";
  const rest = queue.rest();
  let initial = rest;
  if (!connect) {
    const head = originRequest(req);
    initial = new Uint8Array(head.length + rest.length);
    initial.set(head);
    initial.set(rest, head.length);
  }
  return {
    ok: true,
    request: {
      protocol: connect ? "HTTP CONNECT" : "HTTP",
      host: req.host,
      port: req.port,
      initial,
      success: connect ? connectEstablished() : undefined,
      failure: (why, message) => httpResponse(httpStatus(why), undefined, message),
    },
  };
}
