/**
 * `warren probe-key [--save-hostkey] [--known-hosts FILE] host[#port]`:
 * connect, take the server's host key from the key exchange, and hang up
 * before authentication. Prints one line, `HOST#PORT TYPE SHA256:...`, and
 * where the key stands in known_hosts. --save-hostkey appends it to the
 * user's known_hosts (default ~/.ssh/known_hosts); a host already known
 * with another key is not overwritten (exit 1).
 */
import { connect as netConnect, type Socket } from "node:net";
import { Buffer } from "node:buffer";
import { parseCommand } from "../cli/parse_command.ts";
import type { Env } from "../config/env.ts";
import type { Subcommand } from "./subcommand.ts";
import { parsePort } from "../config/forward.ts";
import { parseTarget } from "../cli/target.ts";
import { homeDir } from "../config/env.ts";
import {
  appendKnownHost,
  fingerprintSha256,
  formatKnownHostsLine,
  keyTypeOfBlob,
  loadKnownHosts,
  lookupHostKey,
} from "../config/known_hosts.ts";
import { EXIT_OK, messageOf, UsageError, WarrenError } from "../errors.ts";
import { Client } from "../ssh/ssh2.ts";
import { scopePermissions } from "../cli/scope.ts";

export const PROBE_HELP =
  `Usage: warren probe-key [--save-hostkey] [--known-hosts FILE] [-t SECONDS] host[#port]

Connect to an SSH server, print its host key type and SHA256 fingerprint, and
disconnect before authenticating.

  --save-hostkey       Add the key to known_hosts (if the host is not known).
  --known-hosts FILE   The known_hosts file (default ~/.ssh/known_hosts).
  -t, --timeout SECS   Give up after this long (default 15).`;

/** Connect and read the host key; never authenticates. */
export async function probeHostKey(
  host: string,
  port: number,
  timeoutS: number,
): Promise<Uint8Array> {
  const label = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  const sock = await new Promise<Socket>((resolve, reject) => {
    const s = netConnect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(
        new WarrenError("timeout", `Cannot connect to ${label}: timed out after ${timeoutS} s`),
      );
    }, timeoutS * 1000);
    s.once("error", (err: Error & { code?: string }) => {
      clearTimeout(timer);
      s.destroy();
      const why = err.code === "ECONNREFUSED"
        ? "connection refused"
        : err.code === "ENOTFOUND" || err.code === "EAI_AGAIN"
        ? "cannot resolve the host name"
        : messageOf(err);
      reject(new WarrenError("connect", `Cannot connect to ${label}: ${why}`));
    });
    s.once("connect", () => {
      clearTimeout(timer);
      s.removeAllListeners("error");
      resolve(s);
    });
  });
  const client = new Client();
  return await new Promise<Uint8Array>((resolve, reject) => {
    let key: Uint8Array | undefined;
    let failure: Error | undefined;
    const timer = setTimeout(() => {
      failure = new WarrenError("timeout", `No host key from ${label} within ${timeoutS} s`);
      client.destroy();
    }, timeoutS * 1000);
    client.on("error", (err: Error) => failure ??= err);
    client.once("close", () => {
      clearTimeout(timer);
      if (key) return resolve(key);
      reject(
        failure instanceof WarrenError ? failure : new WarrenError(
          "protocol",
          `SSH handshake with ${label} failed: ${
            failure ? messageOf(failure) : "closed by the server"
          }`,
        ),
      );
    });
    client.connect({
      sock,
      username: "probe-key",
      readyTimeout: 0,
      // Take the key and refuse it: ssh2 disconnects before any authentication.
      hostVerifier: (blob: Buffer, verify: (ok: boolean) => void) => {
        key = new Uint8Array(blob);
        verify(false);
      },
    } as never);
  });
}

async function run(args: string[], env: Env): Promise<number> {
  const parsed = parseCommand("probe-key", {
    args,
    options: {
      "save-hostkey": { type: "boolean" },
      "known-hosts": { type: "string" },
      timeout: { type: "string", short: "t" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
    strict: true,
  });
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(PROBE_HELP);
    return EXIT_OK;
  }
  if (positionals.length !== 1) {
    throw new UsageError("probe-key: expected one host[#port]");
  }
  const target = parseTarget(positionals[0]);
  const port = target.port ?? 22;
  const timeout = values.timeout === undefined
    ? 15
    : parsePort(values.timeout, "Invalid --timeout", 1);
  const file = values["known-hosts"] ?? `${homeDir(env)}/.ssh/known_hosts`;
  scopePermissions("before probing", {
    write: values["save-hostkey"] ? [`--save-hostkey: ${file}`] : [],
  });
  const blob = await probeHostKey(target.host, port, timeout);
  const type = keyTypeOfBlob(blob);
  const name = `${target.host.includes(":") ? `[${target.host}]` : target.host}#${port}`;
  console.log(`${name} ${type} ${fingerprintSha256(blob)}`);
  const found = lookupHostKey(await loadKnownHosts([file]), target.host, port, type, blob);
  switch (found.status) {
    case "match":
      console.log(`Known: ${found.entry.file}:${found.entry.line}`);
      return EXIT_OK;
    case "revoked":
      throw new WarrenError(
        "hostkey",
        `The key is revoked (${found.entry.file}:${found.entry.line})`,
      );
    case "mismatch": {
      const e = found.known[0];
      throw new WarrenError(
        "hostkey",
        `${file}:${e.line} has another key for ${name} (${e.keyType}): ` +
          (values["save-hostkey"]
            ? "not saved"
            : "the server's key has changed, or this is not the same server"),
      );
    }
    case "unknown":
      if (!values["save-hostkey"]) {
        console.log(`Not in ${file} (add it with --save-hostkey)`);
        return EXIT_OK;
      }
      await appendKnownHost(file, formatKnownHostsLine(target.host, port, blob));
      console.log(`Saved to ${file}`);
      return EXIT_OK;
  }
}

export const probeKeyCommand: Subcommand = {
  summary: "print a server's host key fingerprint: warren probe-key [--save-hostkey] host[#port]",
  run,
};
