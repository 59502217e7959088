/**
 * The client side of the control endpoint (control.ts): one request, one
 * reply. No broker at the address is one WarrenError that says so.
 */
import { fileProblem, messageOf, UsageError, WarrenError } from "../errors.ts";
import { type ControlAddress, formatControlAddress } from "./address.ts";
import { close, readLine, writeLine } from "./control.ts";

/** The broker is not there: one line, exit 1. */
function notRunning(address: ControlAddress, why: string): WarrenError {
  return new WarrenError(
    "connect",
    `No broker running at ${
      formatControlAddress(address)
    } (${why}); start one with 'warren broker'`,
  );
}

async function dial(address: ControlAddress): Promise<{ conn: Deno.Conn; token?: string }> {
  if (address.kind === "unix") {
    try {
      return { conn: await Deno.connect({ transport: "unix", path: address.path }) };
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) throw notRunning(address, "no socket");
      if (err instanceof Deno.errors.ConnectionRefused) throw notRunning(address, "nobody listens");
      throw new WarrenError(
        "connect",
        `Cannot reach the broker at ${address.path}: ${messageOf(err)}`,
      );
    }
  }
  let token: string;
  try {
    token = (await Deno.readTextFile(address.tokenFile)).trim();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw notRunning(address, `no ${address.tokenFile}`);
    throw new WarrenError("io", `Cannot read ${address.tokenFile}: ${fileProblem(err)}`);
  }
  try {
    return { conn: await Deno.connect({ hostname: address.hostname, port: address.port }), token };
  } catch (err) {
    if (err instanceof Deno.errors.ConnectionRefused) {
      throw notRunning(address, "connection refused");
    }
    throw new WarrenError("connect", `Cannot reach the broker: ${messageOf(err)}`);
  }
}

/** Send one command; resolves its result, throws its error (UsageError for usage). */
export async function controlRequest(
  address: ControlAddress,
  command: string,
  args: Record<string, unknown> = {},
): Promise<unknown> {
  const { conn, token } = await dial(address);
  try {
    await writeLine(conn, token ? { command, args, token } : { command, args });
    const line = await readLine(conn, 64 * 1024 * 1024);
    if (line === null) {
      throw new WarrenError("protocol", "The broker closed the control connection without a reply");
    }
    const reply = JSON.parse(line) as {
      ok: boolean;
      result?: unknown;
      error?: string;
      usage?: boolean;
    };
    if (reply.ok) return reply.result;
    const message = reply.error ?? "The broker refused the request";
    throw reply.usage ? new UsageError(message) : new WarrenError("tunnel", message);
  } finally {
    close(conn);
  }
}
