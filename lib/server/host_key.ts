/**
 * The server's host key: read from `--host-key FILE`, or from the default
 * place, generated there on first run.
 *
 * The default is `$XDG_CONFIG_HOME/warren/host_ed25519_key` (else
 * `~/.config/warren/...`; on Windows `%APPDATA%\warren\...`). A generated key
 * is ed25519, written with mode 0600 in a directory created with mode 0700,
 * with its public half beside it in `host_ed25519_key.pub`. An explicit
 * `--host-key` file must exist: a typo must not silently become a new server
 * identity. As sshd does, a key file others can read is refused (not on
 * Windows, where modes mean nothing). A key that cannot sign is refused at
 * start, rather than failing every handshake.
 */
import { Buffer } from "node:buffer";
import { dirname, join } from "node:path";
import { fingerprintSha256 } from "../config/ssh_key_blob.ts";
import { ConfigError, fileProblem, messageOf, WarrenError } from "../errors.ts";
import { type ParsedKey, utils } from "../ssh/ssh2.ts";
import { generateEd25519 } from "./keygen.ts";
import type { Env } from "../config/env.ts";

export interface HostKey {
  /** The private key text, as ssh2's Server takes it. */
  privateKey: string;
  path: string;
  /** "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa". */
  type: string;
  /** The public key blob. */
  publicBlob: Uint8Array;
  /** "SHA256:..." as ssh-keygen -l prints it. */
  fingerprint: string;
  /** True when this run created the key. */
  generated: boolean;
}

/** Where the host key lives when --host-key is not given. */
export function defaultHostKeyPath(env: Env, os: string = Deno.build.os): string {
  const base = os === "windows"
    ? env("APPDATA") ?? join(env("USERPROFILE") ?? ".", "AppData", "Roaming")
    : env("XDG_CONFIG_HOME") || join(env("HOME") ?? ".", ".config");
  return join(base, "warren", "host_ed25519_key");
}

/** Load `path`; with `create`, generate it first when it does not exist. */
export async function loadHostKey(path: string, create: boolean): Promise<HostKey> {
  let text: string;
  try {
    await checkMode(path);
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw readError(path, err);
    if (!create) throw new ConfigError(`Cannot read host key ${path}: no such file`);
    return await generateHostKey(path);
  }
  return fromText(text, path, false);
}

async function checkMode(path: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  const info = await Deno.stat(path);
  const mode = (info.mode ?? 0) & 0o777;
  if (info.isFile && (mode & 0o077) !== 0) {
    throw new ConfigError(
      `Cannot use host key ${path}: mode ${mode.toString(8).padStart(4, "0")} lets other ` +
        `users read it (chmod 600 ${path})`,
    );
  }
}

function readError(path: string, err: unknown): Error {
  if (err instanceof ConfigError) return err;
  const message = `Cannot read host key ${path}: ${fileProblem(err)}`;
  if (err instanceof Deno.errors.PermissionDenied || err instanceof Deno.errors.IsADirectory) {
    return new ConfigError(message);
  }
  return new WarrenError("io", message, { cause: err });
}

function fromText(text: string, path: string, generated: boolean): HostKey {
  let parsed = utils.parseKey(text);
  if (Array.isArray(parsed)) parsed = parsed[0];
  if (parsed instanceof Error) {
    const why = /encrypted|passphrase/i.test(parsed.message)
      ? "it is encrypted (a host key must be readable without a passphrase)"
      : `not a private key ssh2 can read (${parsed.message})`;
    throw new ConfigError(`Cannot use host key ${path}: ${why}`);
  }
  const key = parsed as ParsedKey;
  if (!key.isPrivateKey()) {
    throw new ConfigError(`Cannot use host key ${path}: it is a public key; give the private key`);
  }
  // A key that cannot sign would fail every handshake: say so now.
  const signed = key.sign(Buffer.from("warren host key check"));
  if (signed instanceof Error) {
    throw new ConfigError(`Cannot use host key ${path}: it cannot sign (${signed.message})`);
  }
  const publicBlob = new Uint8Array(key.getPublicSSH());
  return {
    privateKey: text,
    path,
    type: key.type,
    publicBlob,
    fingerprint: fingerprintSha256(publicBlob),
    generated,
  };
}

async function generateHostKey(path: string): Promise<HostKey> {
  const pair = generateEd25519("warren-serve-host-key");
  try {
    await Deno.mkdir(dirname(path), { recursive: true, mode: 0o700 });
    // createNew: never overwrite a key another process wrote meanwhile.
    await Deno.writeTextFile(path, pair.private, { mode: 0o600, createNew: true });
    await Deno.writeTextFile(`${path}.pub`, `${pair.public}\n`, { mode: 0o644 });
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) return await loadHostKey(path, false);
    throw new WarrenError("io", `Cannot write host key ${path}: ${messageOf(err)}`, {
      cause: err,
    });
  }
  return fromText(pair.private, path, true);
}
