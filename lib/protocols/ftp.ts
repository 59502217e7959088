/**
 * The FTP control-channel rewriters: two pure state machines over bytes, one
 * per direction. `feed(bytes)` returns events in stream order; `end()` flushes
 * at EOF. The tunnel acts on the events (opens a data path, writes bytes) and
 * never looks at the bytes itself.
 *
 * Replies (server → client), RFC 959 §4.2:
 *
 *   idle ──"xyz-"──▶ multi(xyz) ──"xyz " / "xyz"──▶ idle
 *
 *   - Every line passes through unchanged (event `pass`), except a 227
 *     (Entering Passive Mode) or 229 (Entering Extended Passive Mode) reply,
 *     which becomes one `passive` / `extended-passive` event carrying the
 *     whole reply (all its lines when it is a `227-` multi-line reply) and
 *     the address found in it; `rewritePassiveReply` and
 *     `rewriteExtendedPassiveReply` rewrite only the numbers.
 *   - A line that is not a reply where one must start, a 227/229 without an
 *     address, or an overlong line passes unchanged with a `warn` event
 *     (one for a run of lines that are not replies).
 *
 * Commands (client → server), one per line:
 *
 *   - `PORT` / `EPRT |1|` / `EPRT |2|` with the client's own address: an
 *     `active` event; `formatActiveCommand` writes the replacement.
 *   - PORT/EPRT to any other address (an FTP bounce): a `refuse` event, a
 *     504 for the client, nothing for the server. Malformed: 501; an EPRT
 *     family other than 1 or 2: 522 (RFC 2428).
 *   - `LPRT` / `LPSV` (RFC 1639): 502, as their addresses cannot be
 *     rewritten here.
 *   - `AUTH` (FTPS, RFC 2228/4217): refused with 534. Decision: after AUTH
 *     TLS the control channel is encrypted end to end, the tunnel can no
 *     longer see or rewrite PASV/PORT, so every data connection would fail
 *     (or leak outside SSH); the SSH tunnel already encrypts the session up
 *     to the SSH server. Clients that "try" TLS (curl --ssl, lftp's default)
 *     go on in plain FTP; clients that require it stop with a clear reply.
 *   - Everything else passes unchanged.
 *
 * Lines end at LF (CRLF or bare LF); the ending is kept. Telnet IAC prefixes
 * (ABOR's IP/Synch) are skipped only to read the verb.
 */
import { concat } from "../net/io.ts";
import {
  canonicalIp,
  findEpsvPort,
  findPasvAddress,
  formatEprtArgument,
  formatHostPortNumbers,
  type HostPort,
  latin1,
  latin1Bytes,
  lineEnding,
  type LinePiece,
  LineSplitter,
  lineText,
  parseEprtArgument,
  parsePortArgument,
  showLine,
} from "./ftp_parse.ts";

export type ReplyEvent =
  | { kind: "pass"; bytes: Uint8Array }
  | { kind: "passive"; reply: Uint8Array; host: string; port: number }
  | { kind: "extended-passive"; reply: Uint8Array; port: number }
  | { kind: "warn"; message: string };

export type CommandEvent =
  | { kind: "pass"; bytes: Uint8Array }
  | {
    kind: "active";
    verb: "PORT" | "EPRT";
    host: string;
    port: number;
    /** The line ending the client used, for the rewritten command. */
    eol: string;
    /** The command as the client sent it. */
    line: Uint8Array;
  }
  | { kind: "refuse"; reply: Uint8Array; message: string; line: Uint8Array }
  | { kind: "warn"; message: string };

/** The most lines a held 227/229 multi-line reply may have. */
const MAX_HELD_LINES = 64;

export class FtpReplyRewriter {
  #lines = new LineSplitter();
  /** The code of the multi-line reply in progress. */
  #multi: string | null = null;
  /** Lines of a 227-/229- multi-line reply, held until its last line. */
  #held: Uint8Array[] | null = null;
  /** Inside a run of lines that are not replies (warned once per run). */
  #garbled = false;

  feed(bytes: Uint8Array): ReplyEvent[] {
    return this.#pieces(this.#lines.push(bytes));
  }

  end(): ReplyEvent[] {
    const out = this.#pieces(this.#lines.flush());
    if (this.#held) out.push(...this.#release("reply ended inside a multi-line reply"));
    return out;
  }

  #pieces(pieces: LinePiece[]): ReplyEvent[] {
    const out: ReplyEvent[] = [];
    for (const p of pieces) {
      if (p.whole) this.#line(p.bytes, out);
      else this.#fragment(p, out);
    }
    return out;
  }

  #line(bytes: Uint8Array, out: ReplyEvent[]): void {
    const text = lineText(bytes);
    if (this.#multi !== null) {
      const last = text === this.#multi || text.startsWith(`${this.#multi} `);
      if (last) this.#multi = null;
      if (!this.#held) return void out.push({ kind: "pass", bytes });
      this.#held.push(bytes);
      if (last) {
        const reply = concat(this.#held);
        this.#held = null;
        out.push(...this.#passiveReply(reply));
      } else if (this.#held.length > MAX_HELD_LINES) {
        out.push(...this.#release("multi-line reply too long"));
      }
      return;
    }
    const m = /^([1-5]\d\d)([ -]|$)/.exec(text);
    if (!m) {
      this.#garbledWarning(out, `malformed reply line: ${showLine(bytes)}`);
      return void out.push({ kind: "pass", bytes });
    }
    this.#garbled = false;
    const [, code, sep] = m;
    const passive = code === "227" || code === "229";
    if (sep === "-") {
      this.#multi = code;
      if (passive) this.#held = [bytes];
      else out.push({ kind: "pass", bytes });
      return;
    }
    if (passive) out.push(...this.#passiveReply(bytes));
    else out.push({ kind: "pass", bytes });
  }

  /** Part of an overlong line (or the unterminated tail at EOF). */
  #fragment(p: LinePiece, out: ReplyEvent[]): void {
    if (this.#held) out.push(...this.#release("overlong line in a multi-line reply"));
    if (p.start) {
      const text = latin1(p.bytes.subarray(0, 4));
      if (this.#multi === null && /^[1-5]\d\d-/.test(text)) this.#multi = text.slice(0, 3);
      else if (this.#multi !== null && text === `${this.#multi} `) this.#multi = null;
      // A reply that is merely long ends a garbled run and is always worth a line.
      if (/^[1-5]\d\d[ -]/.test(text)) this.#garbled = false;
      this.#garbledWarning(out, `overlong or unterminated reply line: ${showLine(p.bytes)}`);
    }
    out.push({ kind: "pass", bytes: p.bytes });
  }

  /**
   * Warn about the first line of a run that is not a reply; the rest of the
   * run passes quietly (a stream that is not FTP, such as implicit TLS,
   * would otherwise warn every few hundred bytes).
   */
  #garbledWarning(out: ReplyEvent[], message: string): void {
    if (this.#garbled) return;
    this.#garbled = true;
    out.push({ kind: "warn", message: `${message} (passed unchanged, as are those after it)` });
  }

  #release(why: string): ReplyEvent[] {
    const bytes = concat(this.#held ?? []);
    this.#held = null;
    return [{ kind: "warn", message: `${why}: passed unchanged` }, { kind: "pass", bytes }];
  }

  #passiveReply(reply: Uint8Array): ReplyEvent[] {
    const text = latin1(reply);
    if (text.startsWith("227")) {
      const a = findPasvAddress(text.slice(4));
      if (a) return [{ kind: "passive", reply, host: a.host, port: a.port }];
    } else {
      const e = findEpsvPort(text.slice(4));
      if (e) return [{ kind: "extended-passive", reply, port: e.port }];
    }
    return [
      { kind: "warn", message: `no address in reply, passed unchanged: ${showLine(reply)}` },
      { kind: "pass", bytes: reply },
    ];
  }
}

/** A 227 reply with its address replaced by `host` (IPv4) and `port`. */
export function rewritePassiveReply(reply: Uint8Array, host: string, port: number): Uint8Array {
  const text = latin1(reply);
  const a = findPasvAddress(text.slice(4));
  if (!a) return reply;
  const at = 4 + a.index;
  return latin1Bytes(
    text.slice(0, at) + formatHostPortNumbers(host, port) + text.slice(at + a.length),
  );
}

/** A 229 reply with its port replaced. */
export function rewriteExtendedPassiveReply(reply: Uint8Array, port: number): Uint8Array {
  const text = latin1(reply);
  const e = findEpsvPort(text.slice(4));
  if (!e) return reply;
  const at = 4 + e.index;
  return latin1Bytes(text.slice(0, at) + port + text.slice(at + e.length));
}

/** `PORT h1,...,p2` or `EPRT |f|host|port|` with the line ending given. */
export function formatActiveCommand(
  verb: "PORT" | "EPRT",
  host: string,
  port: number,
  eol = "\r\n",
): Uint8Array {
  const arg = verb === "PORT" ? formatHostPortNumbers(host, port) : formatEprtArgument(host, port);
  return latin1Bytes(`${verb} ${arg}${eol}`);
}

export interface CommandRewriterOptions {
  /** The FTP client's address as the control connection's peer. */
  clientAddress: string;
}

export class FtpCommandRewriter {
  #lines = new LineSplitter();
  #client: string;

  constructor(options: CommandRewriterOptions) {
    this.#client = canonicalIp(options.clientAddress);
  }

  feed(bytes: Uint8Array): CommandEvent[] {
    return this.#pieces(this.#lines.push(bytes));
  }

  end(): CommandEvent[] {
    return this.#pieces(this.#lines.flush());
  }

  #pieces(pieces: LinePiece[]): CommandEvent[] {
    const out: CommandEvent[] = [];
    for (const p of pieces) {
      if (p.whole) {
        out.push(...this.#command(p.bytes));
        continue;
      }
      if (p.start) {
        out.push({
          kind: "warn",
          message: `overlong or unterminated command: ${showLine(p.bytes)}`,
        });
      }
      out.push({ kind: "pass", bytes: p.bytes });
    }
    return out;
  }

  #command(bytes: Uint8Array): CommandEvent[] {
    const eol = lineEnding(bytes);
    const text = lineText(bytes).replace(/^(?:\xff[\xf0-\xfe])+/, "");
    const space = text.indexOf(" ");
    const verb = (space < 0 ? text : text.slice(0, space)).toUpperCase();
    const arg = space < 0 ? "" : text.slice(space + 1);
    const refuse = (code: number, reason: string, message: string): CommandEvent[] => [
      { kind: "refuse", reply: latin1Bytes(`${code} ${reason}${eol}`), message, line: bytes },
    ];
    switch (verb) {
      case "PORT": {
        const a = parsePortArgument(arg);
        if (!a) return refuse(501, "Syntax error in PORT argument.", `malformed PORT ${arg}`);
        return this.#active("PORT", a, bytes);
      }
      case "EPRT": {
        const r = parseEprtArgument(arg);
        if (r.ok) return this.#active("EPRT", r, bytes);
        return r.why === "family"
          ? refuse(522, "Network protocol not supported, use (1,2)", `EPRT ${arg}: unknown family`)
          : refuse(501, "Syntax error in EPRT argument.", `malformed EPRT ${arg}`);
      }
      case "LPRT":
      case "LPSV":
        return refuse(
          502,
          `${verb} is not available through this tunnel; use ${
            verb === "LPRT" ? "EPRT or PORT" : "EPSV or PASV"
          }.`,
          `${verb} refused`,
        );
      case "AUTH":
        return refuse(
          534,
          "AUTH refused by the SSH tunnel: TLS would hide the data connections " +
            "from it; this session is already encrypted by SSH.",
          `AUTH ${arg} refused (FTPS cannot be tunneled)`,
        );
      default:
        return [{ kind: "pass", bytes }];
    }
  }

  #active(verb: "PORT" | "EPRT", { host, port }: HostPort, line: Uint8Array): CommandEvent[] {
    const eol = lineEnding(line);
    if (canonicalIp(host) !== this.#client) {
      return [{
        kind: "refuse",
        reply: latin1Bytes(`504 ${verb} refused: only the client's own address is allowed.${eol}`),
        message: `${verb} to ${host}:${port} refused: the client is ${this.#client} (FTP bounce)`,
        line,
      }];
    }
    return [{ kind: "active", verb, host, port, eol, line }];
  }
}
