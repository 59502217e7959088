/**
 * Peers for lib/tunnel/proxy_test.ts: channel openers that stand in for SSH
 * (a TCP connection to a local echo server, or a refusal shaped like the one
 * SshConnection.openDirect gives) and small raw-socket clients.
 */
import { connect as netConnect } from "node:net";
import { hostPort } from "../../config/forward.ts";
import { WarrenError } from "../../errors.ts";
import { readAll, readExactly } from "../../../tests/_harness/local_servers.ts";
import { writeAll } from "../../net/io.ts";
import type { ChannelOpener } from "../types.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** Opens "channels" to a local echo server and records each destination. */
export function echoOpener(port: number, calls: string[]): ChannelOpener {
  return (_srcHost, _srcPort, dstHost, dstPort) => {
    calls.push(hostPort(dstHost, dstPort));
    return new Promise((resolve, reject) => {
      const sock = netConnect({ host: "127.0.0.1", port, allowHalfOpen: true });
      sock.once("connect", () => resolve(sock));
      sock.once("error", reject);
    });
  };
}

/** Refuses like SshConnection.openDirect does, with ssh2's reason code on the cause. */
export function refusingOpener(reason: number, description: string): ChannelOpener {
  return (_a, _b, host, port) => {
    const cause = Object.assign(new Error(`(SSH) Channel open failure: ${description}`), {
      reason,
    });
    return Promise.reject(
      new WarrenError("tunnel", `Server refused ${hostPort(host, port)}: ${description}`, {
        cause,
      }),
    );
  };
}

/** Send `request`, half-close, read until the proxy closes. */
export async function exchange(port: number, request: Uint8Array): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(conn, request);
    await conn.closeWrite();
    return await readAll(conn);
  } finally {
    conn.close();
  }
}

/** A reply, then the echo of `data` after half-closing. */
export async function talk(
  port: number,
  request: Uint8Array,
  replyLength: number,
  data: string,
): Promise<[Uint8Array, string]> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(conn, request);
    const reply = await readExactly(conn, replyLength);
    await writeAll(conn, enc(data));
    await conn.closeWrite();
    return [reply, dec(await readAll(conn))];
  } finally {
    conn.close();
  }
}
