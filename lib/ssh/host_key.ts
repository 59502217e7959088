/**
 * The host-key policy: what to do with the key a server offers, given the
 * known_hosts files.
 *
 * | lookup   | strict | ask                  | tofu         | advisory            |
 * | -------- | ------ | -------------------- | ------------ | ------------------- |
 * | match    | accept | accept               | accept       | accept              |
 * | unknown  | refuse | confirm, then store  | store        | store               |
 * | mismatch | refuse | refuse               | refuse       | warn, do not store  |
 * | revoked  | refuse | refuse               | refuse       | refuse              |
 *
 * Without a terminal (`confirm` undefined) "ask" refuses an unknown key like
 * "strict". New keys go to `userKnownHostsFile` only; other files are only read.
 */

import {
  appendKnownHost,
  entryKeyBlob,
  fingerprintSha256,
  formatKnownHostsLine,
  hostToken,
  keyTypeOfBlob,
  type KnownHostEntry,
  loadKnownHosts,
  lookupHostKey,
} from "../config/known_hosts.ts";
import { InterruptedError, messageOf, WarrenError } from "../errors.ts";
import type { HostKeyPolicy } from "../config/host_key_policy.ts";

export interface HostKeyCheck {
  /** As the user typed it: the known_hosts identity is host string + port. */
  host: string;
  port: number;
  policy: HostKeyPolicy;
  /** Read in order (user file(s) first, then /etc/ssh/ssh_known_hosts). */
  knownHostsFiles: string[];
  /**
   * Where new keys are written (tofu, advisory, ask-accepted); undefined when
   * only Tectia host key directories are read, which warren never writes: a
   * key accepted then holds for this connection only.
   */
  userKnownHostsFile: string | undefined;
  /** Write new entries hashed, as with OpenSSH's HashKnownHosts (default no). */
  hashKnownHosts?: boolean;
  /** Ask a yes/no question on the terminal; undefined when there is no terminal or batch mode is on. */
  confirm?: (question: string) => Promise<boolean>;
  /** Warnings and notices for the user (one line each). */
  warn: (line: string) => void;
  info: (line: string) => void;
}

/**
 * Check the offered key (an SSH public key blob) against the policy. Resolves
 * to accept; throws a WarrenError of kind "hostkey" to refuse.
 */
export async function verifyHostKey(
  check: HostKeyCheck,
  keyBlob: Uint8Array,
): Promise<void> {
  const name = displayName(check.host, check.port);
  let type: string;
  try {
    type = keyTypeOfBlob(keyBlob);
  } catch (err) {
    throw new WarrenError(
      "hostkey",
      `Cannot verify the host key of ${name}: ${messageOf(err)}`,
      { cause: err },
    );
  }
  const offered = `${type} ${fingerprintSha256(keyBlob)}`;
  const entries = await loadKnownHosts(check.knownHostsFiles);
  const found = lookupHostKey(entries, check.host, check.port, type, keyBlob);
  switch (found.status) {
    case "match":
      return;
    case "revoked":
      throw new WarrenError(
        "hostkey",
        `Host key for ${name} is revoked (${offered}, ${where(found.entry)}): refusing to connect`,
      );
    case "unknown":
      return await onUnknown(check, name, offered, keyBlob);
    case "mismatch":
      return onMismatch(check, name, type, offered, found.known);
  }
}

async function onUnknown(
  check: HostKeyCheck,
  name: string,
  offered: string,
  keyBlob: Uint8Array,
): Promise<void> {
  const file = check.userKnownHostsFile ?? "a known_hosts file";
  if (check.policy === "strict") {
    throw new WarrenError(
      "hostkey",
      `Host key for ${name} is not known (${offered}): add it to ${file} or use --hostkey-policy=tofu/ask`,
    );
  }
  if (check.policy === "ask") {
    if (check.confirm === undefined) {
      throw new WarrenError(
        "hostkey",
        `Host key for ${name} is not known (${offered}) and there is no terminal to confirm it: add it to ${file} or use --hostkey-policy=tofu`,
      );
    }
    const what = check.userKnownHostsFile === undefined
      ? "Trust it for this connection (only Tectia host key directories are configured, which warren does not write)?"
      : `Trust it and add it to ${file}?`;
    let yes: boolean;
    try {
      yes = await check.confirm(
        `The authenticity of host ${name} cannot be established (${offered}). ${what}`,
      );
    } catch (err) {
      if (err instanceof InterruptedError) throw err;
      throw new WarrenError(
        "hostkey",
        `Cannot confirm the host key for ${name}: ${messageOf(err)}`,
        { cause: err },
      );
    }
    if (!yes) {
      throw new WarrenError(
        "hostkey",
        `Host key for ${name} was not accepted (${offered})`,
      );
    }
  }
  await store(check, name, offered, keyBlob);
}

/** Add the key to the user file; failing to is a warning, as in OpenSSH. */
async function store(
  check: HostKeyCheck,
  name: string,
  offered: string,
  keyBlob: Uint8Array,
): Promise<void> {
  const file = check.userKnownHostsFile;
  if (file === undefined) {
    check.warn(
      `Host key for ${name} (${offered}) not saved: the only known hosts are Tectia host key ` +
        "directories, which warren reads but never writes (add a known_hosts file to save it)",
    );
    return;
  }
  const line = formatKnownHostsLine(check.host, check.port, keyBlob, {
    hash: check.hashKnownHosts,
  });
  try {
    await appendKnownHost(file, line);
  } catch (err) {
    check.warn(`${messageOf(err)} (connecting anyway)`);
    return;
  }
  check.info(`Added host key for ${name} (${offered}) to ${file}`);
}

function onMismatch(
  check: HostKeyCheck,
  name: string,
  type: string,
  offered: string,
  known: KnownHostEntry[],
): void {
  const changed = known[0].keyType === type
    ? "has changed"
    : "does not match the known key type(s)";
  const expected = known.map((e) =>
    `${e.keyType} ${fingerprintSha256(entryKeyBlob(e))} (${where(e)})`
  );
  if (check.policy === "advisory") {
    check.warn(
      `WARNING: the host key for ${name} ${changed}; connecting anyway (advisory policy), the new key is not saved`,
    );
    check.warn(`WARNING: offered:  ${offered}`);
    for (const line of expected) check.warn(`WARNING: expected: ${line}`);
    check.warn(
      "WARNING: someone may be intercepting this connection (man-in-the-middle attack)",
    );
    return;
  }
  const token = hostToken(check.host, check.port);
  const files = [...new Set(known.map((e) => e.file))];
  throw new WarrenError(
    "hostkey",
    [
      `Host key for ${name} ${changed} (offered ${offered}, expected ${
        expected[0]
      }): refusing to connect`,
      "Someone may be intercepting this connection, or the server's key was replaced.",
      `Offered:  ${offered}`,
      ...expected.map((line) => `Expected: ${line}`),
      "If the new key is genuine, remove the old entry (file:line above), e.g. with:",
      ...files.map((file) => `  ssh-keygen -R "${token}" -f "${file}"`),
    ].join("\n"),
  );
}

/** "host:port", with brackets around an IPv6 address. */
function displayName(host: string, port: number): string {
  const bare = host.replace(/^\[(.*)\]$/, "$1");
  return bare.includes(":") ? `[${bare}]:${port}` : `${bare}:${port}`;
}

function where(entry: KnownHostEntry): string {
  return `${entry.file}:${entry.line}`;
}
