/**
 * OpenSSH known_hosts files: parsing, host matching and key lookup.
 *
 * A line is `[@marker] hosts keytype base64 [comment]`, where `hosts` is
 * either a comma list of patterns (`*` and `?` wildcards, `!pattern` negation,
 * `[host]:port` for a non-default port) or one hashed name `|1|salt|hmac`, the
 * base64 HMAC-SHA1 of the host token keyed with the salt (`ssh-keygen -H`).
 * Host names match case-insensitively.
 */

import { Buffer } from "node:buffer";
import { createHmac, randomBytes } from "node:crypto";
import { dirname } from "node:path";
import { fileProblem, messageOf, WarrenError } from "../errors.ts";

import { fingerprintSha256, keyTypeOfBlob } from "./ssh_key_blob.ts";
import { readHostKeyDirectory } from "./host_key_dir.ts";

export { fingerprintSha256, keyTypeOfBlob };

export interface KnownHostEntry {
  marker?: "revoked" | "cert-authority";
  /** The raw host field: "a,b,[c]:2222" or "|1|salt|hash". */
  hosts: string;
  /** "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa", ... */
  keyType: string;
  keyBase64: string;
  comment?: string;
  /** Source path, for messages. */
  file: string;
  /** 1-based line number, for messages. */
  line: number;
}

export type HostKeyLookup =
  | { status: "match"; entry: KnownHostEntry }
  | { status: "revoked"; entry: KnownHostEntry }
  /** The host is known, with other key(s) of any type. */
  | { status: "mismatch"; known: KnownHostEntry[] }
  | { status: "unknown" };

const HASH_MAGIC = "|1|";
const SHA1_LENGTH = 20;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const MARKERS: Record<string, KnownHostEntry["marker"]> = {
  "@revoked": "revoked",
  "@cert-authority": "cert-authority",
};

/**
 * Parse known_hosts text. Blank lines and comments are skipped, and so are
 * malformed lines (unknown marker, missing fields, bad base64, or a key blob
 * whose type differs from the type field), as OpenSSH does; this never throws.
 */
export function parseKnownHosts(text: string, file: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const entry = parseLine(lines[i], file, i + 1);
    if (entry !== undefined) entries.push(entry);
  }
  return entries;
}

function parseLine(
  text: string,
  file: string,
  line: number,
): KnownHostEntry | undefined {
  const trimmed = text.trim();
  if (trimmed === "" || trimmed.startsWith("#")) return undefined;
  const fields = trimmed.split(/[ \t]+/);
  let marker: KnownHostEntry["marker"];
  if (fields[0].startsWith("@")) {
    marker = MARKERS[fields.shift()!];
    if (marker === undefined) return undefined;
  }
  if (fields.length < 3) return undefined;
  const [hosts, keyType, keyBase64, ...rest] = fields;
  if (hosts.startsWith("@") || !BASE64.test(keyBase64)) return undefined;
  try {
    if (keyTypeOfBlob(decodeBase64(keyBase64)) !== keyType) return undefined;
  } catch {
    return undefined;
  }
  const entry: KnownHostEntry = { hosts, keyType, keyBase64, file, line };
  if (marker !== undefined) entry.marker = marker;
  if (rest.length > 0) entry.comment = rest.join(" ");
  return entry;
}

/**
 * The name OpenSSH looks up for a host and port: "host" for port 22, else
 * "[host]:port". IPv6 addresses go in bare ("::1", "[::1]:2222"); brackets
 * around the given host are dropped. Lowercased, as OpenSSH does.
 */
export function hostToken(host: string, port: number): string {
  let name = host.toLowerCase();
  if (name.startsWith("[") && name.endsWith("]")) name = name.slice(1, -1);
  return port === 22 || port === 0 ? name : `[${name}]:${port}`;
}

/**
 * Whether the entry's host field names this host and port. A hashed field is
 * compared by HMAC; otherwise any matching pattern selects the line and any
 * matching negated pattern excludes it.
 */
export function entryMatchesHost(
  entry: KnownHostEntry,
  host: string,
  port: number,
): boolean {
  const token = hostToken(host, port);
  if (entry.hosts.startsWith(HASH_MAGIC)) {
    return hashedMatches(entry.hosts, token);
  }
  let matched = false;
  for (const item of entry.hosts.toLowerCase().split(",")) {
    const negated = item.startsWith("!");
    const pattern = negated ? item.slice(1) : item;
    if (pattern === "" || !wildcardMatch(token, pattern)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

function hashedMatches(field: string, token: string): boolean {
  const parts = field.split("|");
  if (parts.length !== 4) return false;
  const salt = decodeBase64(parts[2]);
  if (salt.length !== SHA1_LENGTH) return false;
  return hashToken(salt, token) === parts[3];
}

function hashToken(salt: Uint8Array, token: string): string {
  return createHmac("sha1", salt).update(token).digest("base64");
}

/** Glob match where `*` is any run of characters and `?` any one character. */
export function wildcardMatch(text: string, pattern: string): boolean {
  let t = 0;
  let p = 0;
  let starP = -1;
  let starT = 0;
  while (t < text.length) {
    if (p < pattern.length && (pattern[p] === "?" || pattern[p] === text[t])) {
      t++;
      p++;
    } else if (p < pattern.length && pattern[p] === "*") {
      starP = p++;
      starT = t;
    } else if (starP >= 0) {
      p = starP + 1;
      t = ++starT;
    } else {
      return false;
    }
  }
  while (pattern[p] === "*") p++;
  return p === pattern.length;
}

/**
 * Look up an offered host key. Order of precedence:
 * 1. a `@revoked` line carrying this key, in any file and whatever its host
 *    field says, gives "revoked" (a revoked key must never be accepted);
 * 2. a plain line for this host with this key gives "match";
 * 3. plain lines for this host with other keys, of any type, give "mismatch"
 *    (those of `keyType` first);
 * 4. otherwise "unknown".
 * Only the key blob is compared; `keyType` may be the signature algorithm the
 * server announced ("rsa-sha2-512" counts as "ssh-rsa"). `@cert-authority`
 * lines are ignored: certificates are not supported.
 */
export function lookupHostKey(
  entries: KnownHostEntry[],
  host: string,
  port: number,
  keyType: string,
  keyBlob: Uint8Array,
): HostKeyLookup {
  const offered = Buffer.from(keyBlob);
  const sameKey = (e: KnownHostEntry) => offered.equals(decodeBase64(e.keyBase64));
  const revoked = entries.find((e) => e.marker === "revoked" && sameKey(e));
  if (revoked !== undefined) return { status: "revoked", entry: revoked };
  const known: KnownHostEntry[] = [];
  for (const entry of entries) {
    if (entry.marker !== undefined || !entryMatchesHost(entry, host, port)) {
      continue;
    }
    if (sameKey(entry)) return { status: "match", entry };
    known.push(entry);
  }
  if (known.length === 0) return { status: "unknown" };
  const type = /^rsa-sha2-/.test(keyType) ? "ssh-rsa" : keyType;
  const rank = (e: KnownHostEntry) => e.keyType === type ? 0 : 1;
  return { status: "mismatch", known: known.sort((a, b) => rank(a) - rank(b)) };
}

/**
 * A known_hosts line for the host and port, without a newline:
 * "[h]:p ssh-ed25519 AAAA...", or with `hash` "|1|salt|hmac ssh-ed25519 AAAA..."
 * as `ssh-keygen -H` writes it.
 */
export function formatKnownHostsLine(
  host: string,
  port: number,
  keyBlob: Uint8Array,
  options?: { hash?: boolean },
): string {
  const type = keyTypeOfBlob(keyBlob);
  const key = Buffer.from(keyBlob).toString("base64");
  let name = hostToken(host, port);
  if (options?.hash) {
    const salt = randomBytes(SHA1_LENGTH);
    name = `${HASH_MAGIC}${salt.toString("base64")}|${hashToken(salt, name)}`;
  }
  return `${name} ${type} ${key}`;
}

/** The bytes of an entry's key. */
export function entryKeyBlob(entry: KnownHostEntry): Uint8Array {
  return new Uint8Array(decodeBase64(entry.keyBase64));
}

function decodeBase64(text: string): Buffer {
  return Buffer.from(text, "base64");
}

/** Read errors that mean "no usable file here", skipped as OpenSSH does. */
const SKIPPED_READ_ERRORS = [
  Deno.errors.NotFound,
  Deno.errors.PermissionDenied,
  Deno.errors.IsADirectory,
  Deno.errors.NotADirectory,
];

/**
 * A path that ends in "/" is a Tectia host key directory (host_key_dir.ts):
 * read, never written. Every other path is an OpenSSH known_hosts file.
 */
export function isHostKeyDirectory(path: string): boolean {
  return path.endsWith("/");
}

/** Where new keys go: the first known_hosts file (not a Tectia directory), if any. */
export function knownHostsWriteTarget(paths: readonly string[]): string | undefined {
  return paths.find((p) => !isHostKeyDirectory(p));
}

/**
 * Read and parse the files (and Tectia host key directories) in order.
 * Missing or unreadable files are skipped silently; any other failure throws
 * a WarrenError of kind "io".
 */
export async function loadKnownHosts(
  paths: string[],
): Promise<KnownHostEntry[]> {
  const entries: KnownHostEntry[] = [];
  for (const path of paths) {
    if (isHostKeyDirectory(path)) {
      for (const k of (await readHostKeyDirectory(path)).keys) {
        entries.push({
          hosts: hostToken(k.host, k.port),
          keyType: k.keyType,
          keyBase64: k.keyBase64,
          file: k.file,
          line: 1,
        });
      }
      continue;
    }
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (err) {
      if (SKIPPED_READ_ERRORS.some((kind) => err instanceof kind)) continue;
      throw new WarrenError("io", `Cannot read ${path}: ${fileProblem(err)}`, {
        cause: err,
      });
    }
    for (const entry of parseKnownHosts(text, path)) entries.push(entry);
  }
  return entries;
}

/**
 * Append one line to a known_hosts file. The parent directory (mode 0o700) and
 * the file (mode 0o600) are created when missing, and a newline is added first
 * when the file does not end with one. Throws a WarrenError of kind "io".
 */
export async function appendKnownHost(
  path: string,
  line: string,
): Promise<void> {
  if (/[\r\n]/.test(line)) {
    throw new TypeError("Cannot append to known_hosts: the line has a newline");
  }
  try {
    await Deno.mkdir(dirname(path), { recursive: true, mode: 0o700 });
    using file = await Deno.open(path, {
      read: true,
      append: true,
      create: true,
      mode: 0o600,
    });
    let text = `${line}\n`;
    if ((await file.stat()).size > 0) {
      const last = new Uint8Array(1);
      await file.seek(-1, Deno.SeekMode.End);
      if (await file.read(last) === 1 && last[0] !== 0x0a) text = `\n${text}`;
    }
    const data = new TextEncoder().encode(text);
    for (let done = 0; done < data.length;) {
      done += await file.write(data.subarray(done));
    }
  } catch (err) {
    throw new WarrenError(
      "io",
      `Cannot add host key to ${path}: ${messageOf(err)}`,
      { cause: err },
    );
  }
}
