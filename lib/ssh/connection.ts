/**
 * One SSH connection: TCP connect with a deadline, host key verification
 * before any authentication, authentication, keepalive, and the channel
 * operations the tunnels need (direct-tcpip out, tcpip-forward in).
 *
 * Failures become one-line `WarrenError`s that say what, where and why:
 * "Cannot connect to 10.0.0.5:22: connection refused".
 */
import { Buffer } from "node:buffer";
import type { Duplex } from "node:stream";
import { Client, type ClientChannel, type TcpConnectionDetails } from "./ssh2.ts";
import { activeCrypto, preferredCiphers, usesWarrenCiphers } from "./crypto/hook.ts";
import { offeredCompression } from "./compression.ts";
import { type AuthMethodName, type AuthPlan, planAuth } from "./auth.ts";
import { Deadline } from "./deadline.ts";
import { ForwardedOpens } from "./forwarded_opens.ts";
import { OfferRecorder } from "./negotiation.ts";
import { DenoSocket, PacketDuplex, recycleOnWrite } from "./transport.ts";
import { sendIgnore } from "./ignore.ts";
import { measureRoundTrip } from "./window.ts";
import { type ProxyDial, proxyFailure, proxyHandshake } from "./proxy_dial.ts";
import { closeQuietly } from "../net/io.ts";
import { type ProxyRule, selectProxyRule } from "../config/proxy_rules.ts";
import { ProxyCommandExit, ProxyCommandSocket, spawnProxyCommand } from "./proxy_command.ts";
import { verifyHostKey } from "./host_key.ts";
import type { HostKeyPolicy } from "../config/host_key_policy.ts";
import type { Prompter } from "./prompt.ts";
import { InterruptedError, messageOf, WarrenError } from "../errors.ts";
import { hostPort } from "../config/forward.ts";
import { knownHostsWriteTarget } from "../config/known_hosts.ts";
import { logger } from "../log.ts";
import { type Health, type HealthTiming, LinkHealth } from "./health.ts";

const log = logger("ssh");

export interface ConnectOptions {
  host: string;
  port: number;
  user: string;
  identityFiles: string[];
  explicitIdentities: boolean;
  agentSocket?: string;
  passwordSource?: string;
  /** Authentication methods to try, in order; undefined = OpenSSH's order. */
  authMethods?: readonly AuthMethodName[];
  hostKeyPolicy: HostKeyPolicy;
  /** Read in order; new keys are written to the first. */
  knownHostsFiles: string[];
  /** Seconds. */
  connectTimeout: number;
  /** Seconds; 0 = off. */
  keepaliveInterval: number;
  keepaliveCountMax: number;
  prompter?: Prompter;
  /** Cipher preference; undefined = preferredCiphers() for the backend. */
  ciphers?: string[];
  /** MAC, key exchange and host key algorithm preferences; undefined = ssh2's. */
  macs?: string[];
  kexs?: string[];
  hostKeyAlgorithms?: string[];
  /** Ask for zlib compression first (as ssh -C); the server may still say none. */
  compression?: boolean;
  /** ssh2's protocol debug output (very verbose). */
  protocolDebug?: boolean;
  /** An open stream to the server (a jump host's channel) instead of a TCP connection. */
  sock?: Duplex;
  /** A command (tokens expanded) whose stdin/stdout carry the connection (ProxyCommand). */
  proxyCommand?: string;
  /** A proxy to connect through (--proxy), its password read beforehand. */
  proxy?: ProxyDial;
  /** A profile's proxy rules: the first matching the server decides (unless `proxy`). */
  proxyRules?: readonly ProxyRule[];
  /** When an unanswered request makes the connection suspect, and how it is probed (tests). */
  health?: Partial<HealthTiming>;
}

export type IncomingTcpHandler = (
  details: TcpConnectionDetails,
  accept: () => ClientChannel,
  reject: () => void,
) => void;

export type IncomingUnixHandler = (accept: () => ClientChannel, reject: () => void) => void;

/** An authenticated connection. */
export class SshConnection implements AsyncDisposable {
  readonly client: Client;
  readonly label: string;
  /** Resolves when the connection ends: null when we closed it. */
  readonly closed: Promise<WarrenError | null>;
  #closing = false;
  #handlers = new Map<string, IncomingTcpHandler>();
  #unixHandlers = new Map<string, IncomingUnixHandler>();
  #forwarded: ForwardedOpens;
  #health: LinkHealth;
  /** Why we gave up on a silent connection (health.ts). */
  #dead?: string;

  #sock: Duplex;

  constructor(client: Client, label: string, opts: ConnectOptions, sock: Duplex) {
    this.client = client;
    this.#sock = sock;
    this.label = label;
    let lastError: Error | undefined;
    client.on("error", (err: Error) => lastError = err);
    this.#health = new LinkHealth(client, sock, label, (reason) => {
      this.#dead = reason;
      client.destroy();
    }, opts.health);
    this.closed = new Promise((resolve) => {
      client.once("close", () => {
        this.#health.close();
        if (this.#closing) return resolve(null);
        const why = this.#dead !== undefined
          ? this.#dead
          : lastError === undefined
          ? "closed by the server"
          : /keepalive/i.test(lastError.message)
          ? `no reply to ${opts.keepaliveCountMax} keepalives ` +
            `(ServerAliveInterval ${opts.keepaliveInterval} s)`
          : messageOf(lastError);
        resolve(
          new WarrenError("connect", `Connection to ${label} lost: ${why}`),
        );
      });
    });
    this.#forwarded = new ForwardedOpens(client);
    client.on("tcp connection", (details, accept, reject) => {
      const handler = this.#handlers.get(
        `${details.destIP}:${details.destPort}`,
      );
      if (handler) handler(details, accept, reject);
      else reject();
    });
    client.on("unix connection", (info, accept, reject) => {
      const handler = this.#unixHandlers.get(info.socketPath);
      // ssh2 accepts both kinds of open with the same Channel class.
      if (handler) handler(accept as () => ClientChannel, reject);
      else reject();
    });
  }

  /** Open a direct-streamlocal@openssh.com channel: the server connects a Unix socket. */
  openStreamLocal(socketPath: string): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      try {
        this.client.openssh_forwardOutStreamLocal(socketPath, (err, ch) => {
          if (err) {
            const why = messageOf(err).replace(/^\(SSH\) Channel open failure: /, "");
            reject(
              new WarrenError("tunnel", `Server refused ${socketPath}: ${why}`, { cause: err }),
            );
          } else resolve(ch);
        });
      } catch (err) {
        reject(new WarrenError("tunnel", `Cannot open a channel: ${messageOf(err)}`));
      }
    });
  }

  /** Ask the server to listen on a Unix socket (streamlocal-forward@openssh.com). */
  forwardInStreamLocal(socketPath: string, handler: IncomingUnixHandler): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.openssh_forwardInStreamLocal(socketPath, (err) => {
        if (err) {
          const why = messageOf(err).replace(/^Unable to bind to \S+$/, "request denied");
          reject(new WarrenError("bind", `Server refused to listen on ${socketPath}: ${why}`));
          return;
        }
        this.#unixHandlers.set(socketPath, handler);
        resolve();
      });
    });
  }

  /** Cancel a streamlocal-forward; errors are logged, not thrown. */
  unforwardInStreamLocal(socketPath: string): Promise<void> {
    this.#unixHandlers.delete(socketPath);
    return new Promise((resolve) => {
      try {
        this.client.openssh_unforwardInStreamLocal(socketPath, (err) => {
          if (err) {
            log.debug("cancel-streamlocal-forward {path}: {err}", {
              path: socketPath,
              err: messageOf(err),
            });
          }
          resolve();
        });
      } catch {
        resolve();
      }
    });
  }

  /** `suspect` while a request has gone unanswered and the connection is being probed. */
  get health(): Health {
    return this.#health.state;
  }

  /** Open a direct-tcpip channel; the server resolves and connects dst. */
  openDirect(
    srcHost: string,
    srcPort: number,
    dstHost: string,
    dstPort: number,
  ): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      const answered = this.#health.watch("channel open");
      try {
        this.client.forwardOut(
          srcHost,
          srcPort,
          dstHost,
          dstPort,
          (err, ch) => {
            answered();
            if (err) {
              reject(
                new WarrenError(
                  "tunnel",
                  `Server refused ${hostPort(dstHost, dstPort)}: ${
                    messageOf(err).replace(
                      /^\(SSH\) Channel open failure: /,
                      "",
                    )
                  }`,
                  { cause: err },
                ),
              );
            } else resolve(ch);
          },
        );
      } catch (err) {
        answered();
        reject(
          new WarrenError("tunnel", `Cannot open a channel: ${messageOf(err)}`),
        );
      }
    });
  }

  /** Ask the server to listen (tcpip-forward); resolves the bound port. */
  forwardIn(
    address: string,
    port: number,
    handler: IncomingTcpHandler,
  ): Promise<number> {
    return new Promise((resolve, reject) => {
      const answered = this.#health.watch("remote forward request");
      this.client.forwardIn(address, port, (err, bound) => {
        answered();
        if (err) {
          reject(
            new WarrenError(
              "bind",
              `Server refused to listen on ${hostPort(address || "*", port)}: ${
                messageOf(err).replace(
                  /^Unable to bind to \S+$/,
                  "request denied",
                )
              }`,
            ),
          );
          return;
        }
        const real = port === 0 ? bound : port;
        this.#handlers.set(`${address}:${real}`, handler);
        this.#forwarded.added(address, port, real);
        resolve(real);
      });
    });
  }

  /** Cancel a tcpip-forward; errors are logged, not thrown. */
  unforwardIn(address: string, port: number): Promise<void> {
    this.#handlers.delete(`${address}:${port}`);
    this.#forwarded.removed(address, port);
    return new Promise((resolve) => {
      try {
        this.client.unforwardIn(address, port, (err) => {
          if (err) {
            log.debug("cancel-tcpip-forward {addr}: {err}", {
              addr: hostPort(address, port),
              err: messageOf(err),
            });
          }
          resolve();
        });
      } catch {
        resolve();
      }
    });
  }

  async close(): Promise<void> {
    this.#closing = true;
    this.#health.close();
    this.client.end();
    // ssh2's destroy() does nothing once end() has made the socket unwritable,
    // so a server that does not answer the close would hold it for ever:
    // the socket itself is destroyed.
    const timer = setTimeout(() => {
      this.client.destroy();
      this.#sock.destroy();
    }, 1000);
    await this.closed;
    clearTimeout(timer);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function connectError(
  err: Error & { code?: string },
  label: string,
  host: string,
): WarrenError {
  // Deno's resolver failures carry no code, only this message.
  const code = err.code ?? (/failed to lookup address/.test(err.message) ? "EDNS" : undefined);
  switch (code) {
    case "ECONNREFUSED":
      return new WarrenError(
        "connect",
        `Cannot connect to ${label}: connection refused`,
      );
    case "ENOTFOUND":
    case "EDNS":
    case "EAI_NONAME":
    case "EAI_AGAIN":
      return new WarrenError("dns", `Cannot resolve host name '${host}'`);
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return new WarrenError(
        "connect",
        `Cannot connect to ${label}: host unreachable`,
      );
  }
  return new WarrenError(
    "connect",
    `Cannot connect to ${label}: ${messageOf(err)}`,
    { cause: err },
  );
}

/** The proxy a profile's rule set picks for this server, or undefined (direct). */
function ruleDial(opts: ConnectOptions, label: string): ProxyDial | undefined {
  if (!opts.proxyRules?.length) return undefined;
  const rule = selectProxyRule(opts.proxyRules, opts.host, opts.port);
  log.debug("Proxy rule for {label}: {rule}", {
    label,
    rule: rule ? rule.text : "none matches (direct)",
  });
  return rule?.proxy && { proxy: rule.proxy };
}

/**
 * Open the TCP connection, bounded by the deadline: to the server, or to the
 * proxy and through its handshake (--proxy).
 */
function openSocket(opts: ConnectOptions, label: string): Promise<DenoSocket> {
  const dial = opts.proxy ?? ruleDial(opts, label);
  const to = dial
    ? { hostname: dial.proxy.host, port: dial.proxy.port }
    : { hostname: opts.host, port: opts.port };
  const toLabel = dial ? `proxy ${hostPort(to.hostname, to.port)}` : label;
  if (dial) log.debug("Connecting to {label} through {proxy}", { label, proxy: toLabel });
  return new Promise((resolve, reject) => {
    let timedOut = false;
    let open: Deno.TcpConn | undefined;
    const deadline = new Deadline(opts.connectTimeout * 1000, () => {
      timedOut = true;
      if (open) closeQuietly(open);
      reject(
        new WarrenError(
          "timeout",
          `Cannot connect to ${label}${dial ? ` through ${toLabel}` : ""}: ` +
            `timed out after ${opts.connectTimeout} s`,
        ),
      );
    });
    Deno.connect(to).then(async (conn) => {
      if (timedOut) return conn.close();
      if (!dial) {
        deadline.clear();
        return resolve(new DenoSocket(conn));
      }
      open = conn;
      try {
        const leftover = await proxyHandshake(conn, dial, opts.host, opts.port);
        deadline.clear();
        resolve(new DenoSocket(conn, leftover));
      } catch (err) {
        deadline.clear();
        closeQuietly(conn);
        reject(proxyFailure(err, dial, opts.host, opts.port));
      }
    }, (err) => {
      deadline.clear();
      reject(connectError(err, toLabel, to.hostname));
    });
  });
}

function endReasonOf(sock: Duplex): ProxyCommandExit | undefined {
  return sock instanceof ProxyCommandSocket ? sock.endReason : undefined;
}

/** Run the ProxyCommand that carries the connection. */
function startProxyCommand(command: string, label: string): Duplex {
  log.debug("Connecting to {label} through proxy command '{command}'", { label, command });
  try {
    return spawnProxyCommand(command);
  } catch (err) {
    throw new WarrenError(
      "connect",
      `Cannot connect to ${label}: cannot run proxy command '${command}': ${messageOf(err)}`,
    );
  }
}

function authFailure(
  plan: AuthPlan,
  opts: ConnectOptions,
  label: string,
): WarrenError {
  const tried = plan.tried.length > 0 ? plan.tried.join(", ") : "no usable method";
  const offered = plan.serverMethods?.length
    ? `; the server accepts ${plan.serverMethods.join(", ")}`
    : "";
  return new WarrenError(
    "auth",
    `Cannot authenticate as ${opts.user} to ${label}: tried ${tried}${offered}`,
  );
}

/** A negotiated cipher, and its MAC where it has one (an AEAD cipher has none). */
function withMac(d: { cipher: string; mac?: string }): string {
  return d.mac ? `${d.cipher} + ${d.mac}` : d.cipher;
}

/** One debug line on the negotiated cipher and who encrypts it. */
function logTransport(client: Client, label: string): void {
  const { primitives, fallbackReason } = activeCrypto();
  // deno-lint-ignore no-explicit-any
  const negotiated = (client as any)._protocol?._kex?.negotiated;
  log.debug("Transport to {label}: {cipher}, {how}{why}, compression {compress}", {
    label,
    cipher: negotiated ? `${withMac(negotiated.cs)} / ${withMac(negotiated.sc)}` : "cipher unknown",
    how: usesWarrenCiphers(client) ? `sealed by ${primitives.description}` : "ssh2's own code",
    why: fallbackReason ? ` (libcrypto not used: ${fallbackReason})` : "",
    compress: negotiated ? `${negotiated.cs.compress} / ${negotiated.sc.compress}` : "unknown",
  });
}

/** Connect, verify the host key, authenticate. */
export async function connectSsh(opts: ConnectOptions): Promise<SshConnection> {
  const label = hostPort(opts.host, opts.port);
  log.debug("Connecting to {label} as {user}", { label, user: opts.user });
  const sock = opts.sock ??
    (opts.proxyCommand !== undefined
      ? startProxyCommand(opts.proxyCommand, label)
      : await openSocket(opts, label));
  if (opts.sock !== undefined && !(opts.sock instanceof PacketDuplex)) recycleOnWrite(opts.sock);
  const client = new Client();
  // A window adjust from the server that nothing follows gets its ACK at once
  // (transport.ts, onQuietAfterAdjust).
  if (sock instanceof DenoSocket) {
    sock.onQuietAfterAdjust = () =>
      void sendIgnore((client as unknown as { _protocol?: unknown })._protocol);
  }
  let failure: WarrenError | InterruptedError | undefined;
  let verifiedKey: Buffer | undefined;
  const offers = new OfferRecorder();
  // Ctrl-C at any question while connecting: one message, whichever question it was.
  const interrupted = (err: InterruptedError) =>
    new InterruptedError(`Interrupted while connecting to ${label}`, err.signal);
  return await new Promise<SshConnection>((resolve, reject) => {
    const fail = (err: WarrenError | InterruptedError) => {
      failure ??= err;
      deadline.clear();
      client.destroy();
    };
    const deadline = new Deadline(opts.connectTimeout * 1000, () => {
      fail(
        new WarrenError(
          "timeout",
          verifiedKey !== undefined
            ? `Authentication to ${label} timed out after ${opts.connectTimeout} s`
            : `SSH handshake with ${label} timed out after ${opts.connectTimeout} s`,
        ),
      );
    });
    const plan = planAuth({
      user: opts.user,
      host: opts.host,
      identityFiles: opts.identityFiles,
      explicitIdentities: opts.explicitIdentities,
      agentSocket: opts.agentSocket,
      passwordSource: opts.passwordSource,
      methods: opts.authMethods,
      prompter: opts.prompter,
      whilePrompting: (q) => deadline.paused(q),
      onInterrupt: (err) => fail(interrupted(err)),
    });
    const onError = (err: Error & { level?: string }) => {
      if (failure) return;
      if (err.level === "client-authentication") {
        if (plan.noteError(err)) return; // a key that could not sign; ssh2 goes on
        fail(authFailure(plan, opts, label));
      } else if (err.level === "agent") {
        log.warn("ssh-agent: {err}", { err: messageOf(err) });
      } else if (err instanceof ProxyCommandExit || endReasonOf(sock)) {
        // The command ended: that is the news, not ssh2's "Connection lost".
        const why = err instanceof ProxyCommandExit ? err : endReasonOf(sock)!;
        fail(new WarrenError("connect", `Cannot connect to ${label}: ${why.message}`));
      } else {
        const why = offers.explain(messageOf(err)) ?? messageOf(err);
        fail(
          new WarrenError("protocol", `SSH handshake with ${label} failed: ${why}`, { cause: err }),
        );
      }
    };
    client.on("error", onError);
    client.once("close", () => {
      deadline.clear();
      reject(
        failure ??
          new WarrenError(
            "connect",
            `Connection to ${label} closed during the SSH handshake`,
          ),
      );
    });
    client.once("ready", () => {
      deadline.clear();
      // The offers are known by now; keep ssh2's per-packet debug lines off.
      if (!opts.protocolDebug) stopProtocolDebug(client);
      client.removeListener("error", onError);
      client.removeAllListeners("close");
      log.debug("Authenticated to {label} as {user}", {
        label,
        user: opts.user,
      });
      logTransport(client, label);
      measureRoundTrip(client);
      resolve(new SshConnection(client, label, opts, sock));
    });
    client.on(
      "banner",
      (msg: string) => log.info("{banner}", { banner: msg.trimEnd() }),
    );
    client.connect({
      sock,
      username: opts.user,
      readyTimeout: 0,
      // Unix socket tunnels (OpenSSH's streamlocal extensions) with any server
      // that offers them, warren serve among them, not only one that calls
      // itself OpenSSH; a server without them refuses, and warren says so.
      strictVendor: false,
      keepaliveInterval: opts.keepaliveInterval * 1000,
      keepaliveCountMax: opts.keepaliveCountMax,
      algorithms: {
        cipher: opts.ciphers ?? preferredCiphers(),
        ...(opts.macs ? { hmac: opts.macs } : {}),
        ...(opts.kexs ? { kex: opts.kexs } : {}),
        ...(opts.hostKeyAlgorithms ? { serverHostKey: opts.hostKeyAlgorithms } : {}),
        compress: offeredCompression("client", opts.compression),
      },
      authHandler: plan.handler as never,
      hostVerifier: (key: Buffer, verify: (ok: boolean) => void): boolean | undefined => {
        // A re-key presents the host key again. The key verified at connect
        // time is accepted at once (synchronously: ssh2's asynchronous path
        // mid-connection sends packets under the wrong keys, and the server
        // drops the connection with "Bad packet length"); any other is refused.
        if (verifiedKey !== undefined) {
          const same = Buffer.compare(verifiedKey, key) === 0;
          if (!same) log.error("The host key of {label} changed during a re-key", { label });
          return same;
        }
        const confirm = opts.prompter?.confirm;
        verifyHostKey({
          host: opts.host,
          port: opts.port,
          policy: opts.hostKeyPolicy,
          knownHostsFiles: opts.knownHostsFiles,
          userKnownHostsFile: knownHostsWriteTarget(opts.knownHostsFiles),
          confirm: confirm && ((q) => deadline.paused(() => confirm(q))),
          warn: (line) => log.warn("{line}", { line }),
          info: (line) => log.info("{line}", { line }),
        }, new Uint8Array(key)).then(() => {
          verifiedKey = Buffer.from(key);
          verify(true);
        }, (err) => {
          if (err instanceof InterruptedError) return fail(interrupted(err));
          failure ??= err instanceof WarrenError ? err : new WarrenError("hostkey", messageOf(err));
          verify(false);
        });
        return undefined;
      },
      debug: offers.hook(opts.protocolDebug ? (msg) => log.trace("{msg}", { msg }) : undefined),
    } as never);
  });
}

/** Take ssh2's debug hook away (see negotiation.ts). */
function stopProtocolDebug(client: Client): void {
  const internals = client as unknown as {
    _protocol?: { _debug?: unknown };
    config?: { debug?: unknown };
  };
  if (internals._protocol) internals._protocol._debug = undefined;
  if (internals.config) internals.config.debug = undefined;
}
