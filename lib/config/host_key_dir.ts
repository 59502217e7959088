/**
 * Tectia's host key directories (`~/.ssh2/hostkeys`, `/etc/ssh2/hostkeys`, or
 * a `<known-hosts path|directory>`), read so that a migrating user's trusted
 * keys keep working. warren only reads them: new keys go to a known_hosts
 * file.
 *
 * - `key_<port>_<host>.pub` ("plain" names): the key of <host> as the user
 *   typed it, on <port>, in the SSH public key file format of RFC 4716
 *   (`---- BEGIN SSH2 PUBLIC KEY ----`, headers, base64) or OpenSSH's one line.
 * - `keys_<hash>` ("hashed" names, Tectia's default): the name is a salted
 *   hash of host and port and the file a hash of the key, by an algorithm
 *   Tectia does not publish, so warren cannot read them; they are counted so
 *   that `warren config check` and `config dump` can say so.
 */
import { Buffer } from "node:buffer";
import { keyTypeOfBlob } from "./ssh_key_blob.ts";

/** One key of a directory, by host and port. */
export interface DirectoryKey {
  host: string;
  port: number;
  keyType: string;
  keyBase64: string;
  file: string;
}

export interface HostKeyDirectory {
  keys: DirectoryKey[];
  /** `keys_<hash>` files: Tectia's hashed names, which warren cannot read. */
  hashed: string[];
  /** Files that look like keys but could not be read, with why. */
  unreadable: { file: string; why: string }[];
  /** The directory is not there (nothing to read; not a mistake). */
  missing: boolean;
}

const PLAIN = /^key_(\d{1,5})_(.+)\.pub$/;
const HASHED = /^keys_[0-9a-fA-F]+$/;

/** Read a Tectia host key directory; never throws (what cannot be read is listed). */
export async function readHostKeyDirectory(dir: string): Promise<HostKeyDirectory> {
  const result: HostKeyDirectory = { keys: [], hashed: [], unreadable: [], missing: false };
  let names: string[];
  try {
    names = [];
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile || entry.isSymlink) names.push(entry.name);
    }
  } catch {
    result.missing = true;
    return result;
  }
  for (const name of names.sort()) {
    const file = `${dir.replace(/\/+$/, "")}/${name}`;
    if (HASHED.test(name)) {
      result.hashed.push(file);
      continue;
    }
    const m = PLAIN.exec(name);
    if (!m || Number(m[1]) > 65535) continue;
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (err) {
      result.unreadable.push({ file, why: err instanceof Error ? err.name : String(err) });
      continue;
    }
    const key = parsePublicKeyFile(text);
    if (key === undefined) {
      result.unreadable.push({ file, why: "not an SSH public key" });
      continue;
    }
    result.keys.push({ host: m[2], port: Number(m[1]), ...key, file });
  }
  return result;
}

/**
 * A public key file: RFC 4716's `---- BEGIN SSH2 PUBLIC KEY ----` block
 * (headers, continued with a trailing `\`, are skipped) or OpenSSH's
 * `type base64 [comment]`. Undefined when it holds no key.
 */
export function parsePublicKeyFile(
  text: string,
): { keyType: string; keyBase64: string } | undefined {
  const lines = text.replace(/\r/g, "").split("\n").map((l) => l.trim());
  const begin = lines.findIndex((l) => /^---- BEGIN SSH2 PUBLIC KEY ----$/.test(l));
  let base64: string;
  if (begin >= 0) {
    const end = lines.findIndex((l, i) => i > begin && /^---- END SSH2 PUBLIC KEY ----$/.test(l));
    if (end < 0) return undefined;
    const body: string[] = [];
    let continued = false;
    for (const line of lines.slice(begin + 1, end)) {
      const header: boolean = continued || /^[^:\s]{1,64}:/.test(line);
      continued = header && line.endsWith("\\");
      if (!header && line !== "") body.push(line);
    }
    base64 = body.join("");
  } else {
    const line = lines.find((l) => l !== "" && !l.startsWith("#"));
    const fields = line?.split(/\s+/) ?? [];
    if (fields.length < 2) return undefined;
    base64 = fields[1];
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) return undefined;
  try {
    const keyType = keyTypeOfBlob(new Uint8Array(Buffer.from(base64, "base64")));
    return { keyType, keyBase64: base64 };
  } catch {
    return undefined;
  }
}
