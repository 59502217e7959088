/**
 * The broker's control endpoint and its client: one JSON line each way per
 * connection.
 *
 *   request:  {"command":"list-connections","args":{...},"token":"..."}
 *   response: {"ok":true,"result":...}
 *             {"ok":false,"error":"one line","usage":false}
 *
 * The client is control_client.ts.
 *
 * Unix socket: mode 0600 in a 0700 directory, so only the user gets in. A
 * socket file left by a dead broker is replaced; a live broker's is not.
 * Loopback TCP (no Unix sockets): the broker writes a random token to the
 * token file (0600) and refuses any request without it.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { Buffer } from "node:buffer";
import { messageOf, UsageError, WarrenError } from "../errors.ts";
import { logger } from "../log.ts";
import { acceptEach } from "../net/accept.ts";
import type { Env } from "../config/env.ts";
import { type ControlAddress, dirOf, formatControlAddress } from "./address.ts";
import { ensurePrivateDir, runtimeDir } from "../config/runtime_dir.ts";

const log = logger("broker", "control");

const MAX_LINE = 64 * 1024;
const REQUEST_TIMEOUT_MS = 10_000;

export type ControlHandler = (command: string, args: Record<string, unknown>) => Promise<unknown>;

interface Request {
  command?: unknown;
  args?: unknown;
  token?: unknown;
}

/** Read one line (without the newline); null at EOF before any newline. */
export async function readLine(conn: Deno.Conn, limit = MAX_LINE): Promise<string | null> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const buf = new Uint8Array(16 * 1024);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) {
      return size === 0 ? null : new TextDecoder().decode(Buffer.concat(chunks));
    }
    const nl = buf.subarray(0, n).indexOf(0x0a);
    chunks.push(buf.slice(0, nl < 0 ? n : nl));
    size += nl < 0 ? n : nl;
    if (size > limit) throw new Error(`line longer than ${limit} bytes`);
    if (nl >= 0) return new TextDecoder().decode(Buffer.concat(chunks));
  }
}

export async function writeLine(conn: Deno.Conn, value: unknown): Promise<void> {
  const data = new TextEncoder().encode(JSON.stringify(value) + "\n");
  for (let off = 0; off < data.length;) off += await conn.write(data.subarray(off));
}

export function close(resource: { close(): void }): void {
  try {
    resource.close();
  } catch { /* closed already */ }
}

export class ControlServer {
  readonly address: ControlAddress;
  #listener: Deno.Listener;
  #handler: ControlHandler;
  #token?: Buffer;
  #tasks = new Set<Promise<void>>();
  #conns = new Set<Deno.Conn>();
  #loop: Promise<void>;
  #closed = false;
  #stop = new AbortController();

  private constructor(
    address: ControlAddress,
    listener: Deno.Listener,
    handler: ControlHandler,
    token?: Buffer,
  ) {
    this.address = address;
    this.#listener = listener;
    this.#handler = handler;
    this.#token = token;
    this.#loop = this.#accept();
  }

  /** Listen at `address`; a broker already there is an error. */
  static async open(
    address: ControlAddress,
    handler: ControlHandler,
    env: Env,
  ): Promise<ControlServer> {
    const shown = formatControlAddress(address);
    if (address.kind === "unix") {
      await preparedDir(dirOf(address.path), env);
      if (await isLive(address)) {
        throw new WarrenError("bind", `A broker is already running at ${shown}`);
      }
      await Deno.remove(address.path).catch(() => {});
      let listener: Deno.Listener;
      try {
        listener = Deno.listen({ transport: "unix", path: address.path });
      } catch (err) {
        throw new WarrenError("bind", `Cannot listen on ${shown}: ${messageOf(err)}`);
      }
      await Deno.chmod(address.path, 0o600);
      return new ControlServer(address, listener, handler);
    }
    let listener: Deno.Listener;
    try {
      listener = Deno.listen({ hostname: address.hostname, port: address.port });
    } catch (err) {
      const why = err instanceof Deno.errors.AddrInUse
        ? "address already in use (is a broker running?)"
        : messageOf(err);
      throw new WarrenError("bind", `Cannot listen on ${shown}: ${why}`);
    }
    const token = randomBytes(32);
    try {
      await preparedDir(dirOf(address.tokenFile), env);
      await Deno.remove(address.tokenFile).catch(() => {});
      await Deno.writeTextFile(address.tokenFile, token.toString("hex") + "\n", {
        mode: 0o600,
        createNew: true,
      });
    } catch (err) {
      listener.close();
      throw new WarrenError("io", `Cannot write ${address.tokenFile}: ${messageOf(err)}`);
    }
    return new ControlServer(address, listener, handler, token);
  }

  #accept(): Promise<void> {
    return acceptEach(
      this.#listener,
      formatControlAddress(this.address),
      () => this.#closed,
      (conn) => {
        if (this.#closed) return close(conn);
        this.#conns.add(conn);
        const task = this.#serve(conn).finally(() => {
          this.#conns.delete(conn);
          this.#tasks.delete(task);
          close(conn);
        });
        this.#tasks.add(task);
      },
      this.#stop.signal,
    );
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let line: string | null;
    try {
      line = await Promise.race([
        readLine(conn),
        new Promise<never>((_, reject) =>
          timer = setTimeout(() => reject(new Error("no request within 10 s")), REQUEST_TIMEOUT_MS)
        ),
      ]);
    } catch (err) {
      log.debug("Control request dropped: {err}", { err: messageOf(err) });
      return;
    } finally {
      clearTimeout(timer);
    }
    if (line === null) return;
    let reply: unknown;
    try {
      const req = JSON.parse(line) as Request;
      if (this.#token && !this.#tokenOk(req.token)) {
        log.warn("Control request refused: missing or wrong token");
        reply = { ok: false, error: "Refused: missing or wrong token", usage: false };
      } else if (typeof req.command !== "string") {
        reply = { ok: false, error: "Bad request: no command", usage: true };
      } else {
        const args = typeof req.args === "object" && req.args !== null
          ? req.args as Record<string, unknown>
          : {};
        reply = { ok: true, result: await this.#handler(req.command, args) };
      }
    } catch (err) {
      reply = {
        ok: false,
        error: err instanceof SyntaxError ? `Bad request: ${err.message}` : messageOf(err),
        usage: err instanceof UsageError || err instanceof SyntaxError,
      };
    }
    try {
      await writeLine(conn, reply);
    } catch (err) {
      log.debug("Control reply not delivered: {err}", { err: messageOf(err) });
    }
  }

  #tokenOk(token: unknown): boolean {
    if (typeof token !== "string" || !/^[0-9a-f]{64}$/.test(token)) return false;
    return timingSafeEqual(Buffer.from(token, "hex"), this.#token!);
  }

  /** Stop listening, finish requests in flight, remove the socket or token file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop.abort();
    close(this.#listener);
    await this.#loop;
    await Promise.allSettled([...this.#tasks]);
    const file = this.address.kind === "unix" ? this.address.path : this.address.tokenFile;
    await Deno.remove(file).catch(() => {});
  }
}

/**
 * The socket's directory: warren's own runtime directory is checked and made
 * private; a directory named with -a is only created when missing (its
 * owner decides who may enter it; the socket itself is 0600).
 */
async function preparedDir(dir: string, env: Env): Promise<void> {
  if (dir === runtimeDir(env)) return await ensurePrivateDir(dir);
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new WarrenError("io", `Cannot create ${dir}: ${messageOf(err)}`);
  }
}

/** Whether something answers on the Unix socket at `address`. */
async function isLive(address: ControlAddress & { kind: "unix" }): Promise<boolean> {
  try {
    const conn = await Deno.connect({ transport: "unix", path: address.path });
    conn.close();
    return true;
  } catch {
    return false;
  }
}
