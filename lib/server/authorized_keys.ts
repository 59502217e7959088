/**
 * OpenSSH authorized_keys files, as `warren serve` reads them.
 *
 * A line is `[options] keytype base64 [comment]`; blank lines and `#` comments
 * are skipped. Options are comma separated, case-insensitive, and may carry a
 * double-quoted value (`\"` inside it is a quote); no spaces outside quotes.
 *
 * Honoured:
 *   from="pattern-list"        client addresses (see from_match.ts)
 *   permitopen="host:port"     where direct-tcpip may go (repeatable)
 *   permitlisten="[host:]port" where tcpip-forward may listen (repeatable)
 *   no-port-forwarding         no forwarding at all
 *   restrict                   everything off (here: port forwarding), until
 *   port-forwarding            turns port forwarding back on
 *   expiry-time="YYYYMMDD[HHMM[SS]][Z]"  refused from then on (local time,
 *                              or UTC with Z)
 * Accepted and without effect, since warren serve never runs a session:
 *   command=, environment=, no-pty, pty, no-agent-forwarding,
 *   agent-forwarding, no-X11-forwarding, X11-forwarding, no-user-rc, user-rc,
 *   tunnel=, no-touch-required, verify-required.
 *
 * A line that cannot be used safely is skipped and reported: an unknown or
 * malformed option (as sshd does: ignoring it could widen access), a
 * `cert-authority` line (certificates are not supported), a key type ssh2
 * cannot verify (sk-*, certificates), bad base64, or a blob whose type differs
 * from the type field. The parser is pure and never throws.
 */
import { Buffer } from "node:buffer";
import { utils } from "../ssh/ssh2.ts";
import { fingerprintSha256, keyTypeOfBlob } from "../config/ssh_key_blob.ts";
import { type FromPattern, parseFromPatterns } from "./from_match.ts";
import {
  type ListenPermit,
  type OpenPermit,
  parseListenPermit,
  parseOpenPermit,
} from "./permits.ts";

export interface KeyOptions {
  from?: FromPattern[];
  /** The from= text as written, for messages. */
  fromText?: string;
  /** undefined = no permitopen= on the line (any destination). */
  permitOpen?: OpenPermit[];
  permitListen?: ListenPermit[];
  portForwarding: boolean;
  expiry?: Date;
}

export interface AuthorizedKey {
  keyType: string;
  keyBlob: Uint8Array;
  /** "SHA256:..." */
  fingerprint: string;
  comment?: string;
  options: KeyOptions;
  file: string;
  line: number;
}

export interface KeyFileProblem {
  file: string;
  line: number;
  message: string;
}

export interface AuthorizedKeys {
  keys: AuthorizedKey[];
  problems: KeyFileProblem[];
}

/** Key types ssh2 can verify a signature for. */
const SUPPORTED_TYPES = new Set([
  "ssh-ed25519",
  "ssh-rsa",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
]);
const KEY_TYPE_RE = /^(ssh-|ecdsa-|sk-)[A-Za-z0-9@.-]+$/;
const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;
const IGNORED_FLAGS = new Set([
  "no-pty",
  "pty",
  "no-agent-forwarding",
  "agent-forwarding",
  "no-x11-forwarding",
  "x11-forwarding",
  "no-user-rc",
  "user-rc",
  "no-touch-required",
  "verify-required",
]);
const IGNORED_VALUES = new Set(["command", "environment", "tunnel"]);
const FLAGS = new Set(["restrict", "no-port-forwarding", "port-forwarding", "cert-authority"]);

export function parseAuthorizedKeys(text: string, file: string): AuthorizedKeys {
  const result: AuthorizedKeys = { keys: [], problems: [] };
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const trimmed = lines[i].trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    try {
      result.keys.push(parseLine(trimmed, file, i + 1));
    } catch (err) {
      const message = err instanceof SyntaxError ? err.message : String(err);
      result.problems.push({ file, line: i + 1, message });
    }
  }
  return result;
}

function parseLine(text: string, file: string, line: number): AuthorizedKey {
  let rest = text;
  let options: KeyOptions = { portForwarding: true };
  const first = /^\S+/.exec(text)![0];
  if (!KEY_TYPE_RE.test(first)) {
    const { optionText, after } = splitOptions(text);
    options = parseOptions(optionText);
    rest = after;
  }
  const [keyType, keyBase64, ...comment] = rest.split(/[ \t]+/);
  if (keyType === undefined || keyBase64 === undefined) {
    throw new SyntaxError("expected [options] keytype base64-key [comment]");
  }
  if (!KEY_TYPE_RE.test(keyType)) throw new SyntaxError(`'${keyType}' is not a key type`);
  if (!SUPPORTED_TYPES.has(keyType)) {
    throw new SyntaxError(`${keyType} keys are not supported (ssh2 cannot verify them)`);
  }
  if (!BASE64_RE.test(keyBase64)) throw new SyntaxError("the key is not valid base64");
  const keyBlob = new Uint8Array(Buffer.from(keyBase64, "base64"));
  let blobType: string;
  try {
    blobType = keyTypeOfBlob(keyBlob);
  } catch {
    throw new SyntaxError("the key data is not an SSH public key");
  }
  if (blobType !== keyType) {
    throw new SyntaxError(`the key says ${blobType} but the line says ${keyType}`);
  }
  if (utils.parseKey(`${keyType} ${keyBase64}`) instanceof Error) {
    throw new SyntaxError(`the ${keyType} key data is malformed`);
  }
  const key: AuthorizedKey = {
    keyType,
    keyBlob,
    fingerprint: fingerprintSha256(keyBlob),
    options,
    file,
    line,
  };
  if (comment.length > 0) key.comment = comment.join(" ");
  return key;
}

/** The options field runs to the first space outside double quotes. */
function splitOptions(text: string): { optionText: string; after: string } {
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "\\" && quoted && text[i + 1] === '"') i++;
    else if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === " " || ch === "\t")) {
      return { optionText: text.slice(0, i), after: text.slice(i).trim() };
    }
  }
  if (quoted) throw new SyntaxError("unterminated quote in the options");
  throw new SyntaxError("expected [options] keytype base64-key [comment]");
}

/** Split on commas outside quotes: [name, value | undefined][]. */
function splitOptionList(text: string): [string, string | undefined][] {
  const out: [string, string | undefined][] = [];
  let i = 0;
  while (i < text.length) {
    const name = /^[A-Za-z0-9-]+/.exec(text.slice(i))?.[0];
    if (!name) throw new SyntaxError(`bad option syntax at '${text.slice(i)}'`);
    i += name.length;
    let value: string | undefined;
    if (text[i] === "=") {
      if (text[i + 1] !== '"') throw new SyntaxError(`option ${name}= needs a quoted value`);
      value = "";
      i += 2;
      for (;;) {
        if (i >= text.length) throw new SyntaxError(`unterminated quote in ${name}=`);
        if (text[i] === "\\" && text[i + 1] === '"') {
          value += '"';
          i += 2;
        } else if (text[i] === '"') {
          i++;
          break;
        } else value += text[i++];
      }
    }
    out.push([name.toLowerCase(), value]);
    if (i < text.length) {
      if (text[i] !== ",") throw new SyntaxError(`expected ',' after option ${name}`);
      i++;
      if (i === text.length) throw new SyntaxError("trailing ',' in the options");
    }
  }
  return out;
}

function parseOptions(text: string): KeyOptions {
  const options: KeyOptions = { portForwarding: true };
  for (const [name, value] of splitOptionList(text)) {
    const needsValue = () => {
      if (value === undefined) throw new SyntaxError(`option ${name} needs ="value"`);
      return value;
    };
    if (value !== undefined && (IGNORED_FLAGS.has(name) || FLAGS.has(name))) {
      throw new SyntaxError(`option ${name} takes no value`);
    }
    if (IGNORED_FLAGS.has(name)) continue;
    switch (name) {
      case "restrict":
      case "no-port-forwarding":
        options.portForwarding = false;
        break;
      case "port-forwarding":
        options.portForwarding = true;
        break;
      case "cert-authority":
        throw new SyntaxError("cert-authority lines are not supported (no certificates)");
      case "from":
        if (options.from) throw new SyntaxError("from= given twice");
        options.fromText = needsValue();
        options.from = parseFromPatterns(options.fromText);
        break;
      case "permitopen":
        (options.permitOpen ??= []).push(parseOpenPermit(needsValue()));
        break;
      case "permitlisten":
        (options.permitListen ??= []).push(parseListenPermit(needsValue()));
        break;
      case "expiry-time":
        if (options.expiry) throw new SyntaxError("expiry-time= given twice");
        options.expiry = parseExpiry(needsValue());
        break;
      default:
        if (IGNORED_VALUES.has(name)) {
          needsValue();
          break;
        }
        throw new SyntaxError(`unknown option '${name}'`);
    }
  }
  return options;
}

/** "YYYYMMDD[HHMM[SS]]" in local time, or UTC with a trailing Z. */
export function parseExpiry(text: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?(Z)?$/i.exec(text);
  if (!m) throw new SyntaxError(`expiry-time '${text}' is not YYYYMMDD[HHMM[SS]][Z]`);
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map((v) => Number(v ?? 0));
  const date = m[7] ? new Date(Date.UTC(y, mo - 1, d, h, mi, s)) : new Date(y, mo - 1, d, h, mi, s);
  const back = m[7]
    ? [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(), date.getUTCHours()]
    : [date.getFullYear(), date.getMonth() + 1, date.getDate(), date.getHours()];
  if (back[0] !== y || back[1] !== mo || back[2] !== d || back[3] !== h || mi > 59 || s > 59) {
    throw new SyntaxError(`expiry-time '${text}' is not a valid date and time`);
  }
  return date;
}
