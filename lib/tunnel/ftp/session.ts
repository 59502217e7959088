/**
 * One FTP control connection through the tunnel: two relay loops, each
 * feeding a rewriter (lib/protocols/ftp.ts) and acting on its events in
 * order.
 *
 * - Replies: a 227/229 gets a data entry from `routes.passive()` and is
 *   rewritten to point at it; if no entry can be made, the client gets a 425
 *   instead.
 * - Commands: PORT/EPRT gets an entry from `routes.active()` and is rewritten
 *   to point at it (425 to the client if that fails); refused commands
 *   (bounce, AUTH, malformed) are answered to the client and logged.
 * - A chunk is fully handled before the next is read, so bytes keep their
 *   order and a slow data setup holds back what follows it.
 * - Writes to the client from both loops are serialised, whole lines each.
 * - A new data entry supersedes the session's unused ones (the FTP server
 *   forgets an old PASV/PORT too); all are released when the control
 *   connection ends. Running transfers are left to finish.
 * - EOF is passed on per direction (half-close); an error on either side
 *   closes both. No exception escapes `run()`.
 */
import {
  type CommandEvent,
  formatActiveCommand,
  FtpCommandRewriter,
  FtpReplyRewriter,
  type ReplyEvent,
  rewriteExtendedPassiveReply,
  rewritePassiveReply,
} from "../../protocols/ftp.ts";
import type { HostPort } from "../../protocols/ftp_parse.ts";
import { canonicalIp, isIpv4, isIpv6, latin1Bytes } from "../../protocols/ftp_parse.ts";
import { messageOf } from "../../errors.ts";
import { type LogGate, logger } from "../../log.ts";
import type { DataEntry } from "./data.ts";
import type { ControlStream } from "./stream.ts";

const log = logger("tunnel", "ftp");

/** How data entries are made for a session (differs for -L and -R). */
export interface DataRoutes {
  /** Passive: an entry the client can reach, leading to `target`. */
  passive(target: HostPort, extended: boolean): Promise<DataEntry>;
  /** Active: an entry the server can reach, leading to `target`. */
  active(target: HostPort, verb: "PORT" | "EPRT"): Promise<DataEntry>;
}

export interface SessionInfo {
  /** The FTP client's address (the control connection's peer). */
  clientAddress: string;
  /**
   * Where passive data connections go: the control connection's destination
   * (its address where known, for -R; dst-host as given, for -L), whatever
   * address a 227 names.
   */
  serverHost: string;
  /** --ftp-trust-pasv-address: connect to the address a 227 names instead. */
  trustPasvAddress?: boolean;
  /** For log lines: "127.0.0.1:50122 -> ftp.example:21". */
  label: string;
  /** Where warnings the FTP client or server can cause go (one per kind per interval). */
  gate?: LogGate;
}

export class FtpSession {
  #client: ControlStream;
  #server: ControlStream;
  #routes: DataRoutes;
  #info: SessionInfo;
  #entries: DataEntry[] = [];
  #clientWrites: Promise<void> = Promise.resolve();
  #aborted = false;

  constructor(
    client: ControlStream,
    server: ControlStream,
    routes: DataRoutes,
    info: SessionInfo,
  ) {
    this.#client = client;
    this.#server = server;
    this.#routes = routes;
    this.#info = info;
  }

  /** Relay until both directions have ended (or one failed). */
  async run(): Promise<void> {
    try {
      await Promise.all([this.#commands(), this.#replies()]);
    } finally {
      for (const e of this.#entries) e.release();
      this.#entries = [];
      this.#client.close();
      this.#server.close();
    }
  }

  /** Close the control connection now (the tunnel is closing). */
  abort(): void {
    this.#aborted = true;
    this.#client.close();
    this.#server.close();
  }

  #fail(err: unknown, where: string): void {
    if (!this.#aborted) {
      log.debug("{label}: {where}: {err}", { label: this.#info.label, where, err: messageOf(err) });
    }
    this.abort();
  }

  /** A warning the client or server caused: through the gate, keyed by the client's address. */
  #warn(kind: string, what: string, message: string, props: Record<string, unknown>): void {
    const p = { label: this.#info.label, ...props };
    if (this.#info.gate) {
      this.#info.gate.log(log, "warn", kind, this.#info.clientAddress, what, message, p);
    } else log.warn(message, p);
  }

  #toClient(bytes: Uint8Array): Promise<void> {
    const write = this.#clientWrites.then(() => this.#client.write(bytes));
    this.#clientWrites = write.catch(() => {});
    return write;
  }

  async #commands(): Promise<void> {
    const rewriter = new FtpCommandRewriter({ clientAddress: this.#info.clientAddress });
    await this.#loop(this.#client, this.#server, rewriter, (e) => this.#command(e), "client");
  }

  async #replies(): Promise<void> {
    await this.#loop(
      this.#server,
      this.#client,
      new FtpReplyRewriter(),
      (e) => this.#reply(e),
      "server",
    );
  }

  async #loop<E>(
    from: ControlStream,
    to: ControlStream,
    rewriter: { feed(b: Uint8Array): E[]; end(): E[] },
    handle: (e: E) => Promise<void>,
    side: string,
  ): Promise<void> {
    try {
      for (;;) {
        const chunk = await from.read();
        if (this.#aborted) return;
        for (const e of chunk === null ? rewriter.end() : rewriter.feed(chunk)) await handle(e);
        if (chunk === null) {
          if (to === this.#client) await this.#clientWrites;
          await to.closeWrite().catch(() => {});
          return;
        }
      }
    } catch (err) {
      this.#fail(err, `${side} side`);
    }
  }

  async #command(e: CommandEvent): Promise<void> {
    switch (e.kind) {
      case "pass":
        return await this.#server.write(e.bytes);
      case "warn":
        return this.#warn("command", "command warnings", "{label}: {msg}", { msg: e.message });
      case "refuse":
        this.#warn("refused", "refused commands", "{label}: {msg}", { msg: e.message });
        return await this.#toClient(e.reply);
      case "active": {
        const entry = await this.#entry(
          () => this.#routes.active(e, e.verb),
          `${e.verb} ${e.host}:${e.port}`,
        );
        if (!entry) return await this.#toClient(cannotOpen(e.eol));
        return await this.#server.write(formatActiveCommand(e.verb, entry.host, entry.port, e.eol));
      }
    }
  }

  async #reply(e: ReplyEvent): Promise<void> {
    switch (e.kind) {
      case "pass":
        return await this.#toClient(e.bytes);
      case "warn":
        return this.#warn("reply", "reply warnings", "{label}: {msg}", { msg: e.message });
      case "passive": {
        const host = this.#passiveHost(e.host);
        const target = { host, port: e.port };
        const entry = await this.#entry(
          () => this.#routes.passive(target, false),
          `PASV ${host}:${e.port}`,
        );
        if (!entry) return await this.#toClient(cannotOpen("\r\n"));
        return await this.#toClient(rewritePassiveReply(e.reply, entry.host, entry.port));
      }
      case "extended-passive": {
        const target = { host: this.#info.serverHost, port: e.port };
        const entry = await this.#entry(
          () => this.#routes.passive(target, true),
          `EPSV port ${e.port}`,
        );
        if (!entry) return await this.#toClient(cannotOpen("\r\n"));
        return await this.#toClient(rewriteExtendedPassiveReply(e.reply, entry.port));
      }
    }
  }

  /**
   * Where a 227's data connection goes. A server could name any address
   * (another host, or one on the SSH server's own network), and the tunnel
   * would connect there on its behalf, past the FTP client's own checks (its
   * 227 now names warren's listener): so the control connection's
   * destination, unless --ftp-trust-pasv-address; an address other than it
   * is logged.
   */
  #passiveHost(named: string): string {
    const control = this.#info.serverHost;
    if (named === "0.0.0.0") return control;
    if (sameHost(named, control)) return named;
    if (this.#info.trustPasvAddress) return named;
    const line = "{label}: the server's 227 names {named}, not {control}: " +
      "the data connection goes to {control} (--ftp-trust-pasv-address follows the 227)";
    const props = { named, control };
    if (isIpv4(canonicalIp(control)) || isIpv6(control) || control === "localhost") {
      this.#warn("pasv address", "227 replies naming another address", line, props);
    } else {
      // dst-host is a name the SSH server resolves: it may well be that address.
      log.debug(line, { label: this.#info.label, ...props });
    }
    return control;
  }

  /** Make an entry, superseding the unused ones; undefined on failure. */
  async #entry(make: () => Promise<DataEntry>, what: string): Promise<DataEntry | undefined> {
    let entry: DataEntry;
    try {
      entry = await make();
    } catch (err) {
      this.#warn(
        "data setup",
        "failed data channels",
        "{label}: cannot open the data channel for {what}: {err}",
        { what, err: messageOf(err) },
      );
      return undefined;
    }
    if (this.#aborted) {
      entry.release();
      return undefined;
    }
    for (const old of this.#entries) old.release();
    this.#entries = [entry];
    log.debug("{label}: {what} -> data entry {host}:{port}", {
      label: this.#info.label,
      what,
      host: entry.host,
      port: entry.port,
    });
    return entry;
  }
}

function cannotOpen(eol: string): Uint8Array {
  return latin1Bytes(`425 Cannot open the data connection through the SSH tunnel.${eol}`);
}

/** Whether the address a 227 names is the control connection's destination `control`. */
export function sameHost(named: string, control: string): boolean {
  const c = control.replace(/^\[(.*)\]$/, "$1");
  if (c.toLowerCase() === "localhost") {
    return named === "127.0.0.1" || canonicalIp(named) === canonicalIp("::1");
  }
  return canonicalIp(named) === canonicalIp(c);
}
