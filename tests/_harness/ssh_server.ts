/**
 * An in-process SSH server (npm:ssh2's Server) on 127.0.0.1, port 0, for fast
 * tests and fault injection: refused channels, failing auth, an abrupt drop,
 * a server that stops answering. It forwards direct-tcpip to real local
 * sockets and implements tcpip-forward, like sshd, but it is not a peer users
 * meet: the real-peer tests use OpenSSH (tests/_harness/sshd.ts).
 */
import { Buffer } from "node:buffer";
import {
  connect as netConnect,
  createServer,
  type Server as NetServer,
  type Socket,
} from "node:net";
import type { AuthContext, Connection } from "../../lib/ssh/ssh2.ts";
import { Server } from "../../lib/ssh/ssh2_server.ts";
import { generateEd25519 } from "../../lib/server/keygen.ts";
import { keepHalfOpen } from "../../lib/server/ssh2_internals.ts";

type AuthMethods = Parameters<AuthContext["reject"]>[0];

export interface TestServerOptions {
  /** Accept this password (password and keyboard-interactive). */
  password?: string;
  /** Accept the generated client key (default true). */
  acceptKey?: boolean;
  /** Refuse every direct-tcpip with this reason code (2 = connect failed). */
  refuseDirect?: number;
  /** Refuse every tcpip-forward request. */
  refuseForward?: boolean;
  /**
   * Name the port that was requested (0 for -R 0) in forwarded-tcpip opens,
   * as asyncssh does, instead of the port that was bound.
   */
  openWithRequestedPort?: boolean;
  /** Wait this long before connecting a direct-tcpip (a slow destination). */
  delayDirectMs?: number;
}

export interface TestServer extends AsyncDisposable {
  port: number;
  dir: string;
  /** An unencrypted ed25519 client key the server accepts. */
  clientKey: string;
  /** known_hosts with this server's key for [127.0.0.1]:port. */
  knownHosts: string;
  hostKeyBlob: Uint8Array;
  /** Authentication attempts seen, by method name. */
  authAttempts: string[];
  /** Number of client connections that reached 'ready'. */
  readyCount(): number;
  /** Destroy every client socket at once (no SSH disconnect message). */
  dropAll(): void;
  /** Stop answering (keepalive tests): pause every client socket. */
  freeze(): void;
  close(): Promise<void>;
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const dir = await Deno.makeTempDir({ prefix: "warren-test-" });
  const host = generateEd25519();
  const client = generateEd25519();
  const clientKey = `${dir}/id_ed25519`;
  await Deno.writeTextFile(clientKey, client.private, { mode: 0o600 });
  const clientPub = client.parsed;
  const hostPub = host.parsed;
  const hostKeyBlob = new Uint8Array(hostPub.getPublicSSH());

  const sockets = new Set<Socket>();
  const netServers = new Set<NetServer>();
  const conns = new Set<Connection>();
  const authAttempts: string[] = [];
  let ready = 0;
  const acceptKey = opts.acceptKey ?? true;

  const server = new Server({ hostKeys: [host.private] }, (conn) => {
    conns.add(conn);
    conn.on("error", () => {});
    conn.on("close", () => conns.delete(conn));
    const methods = [
      ...(acceptKey ? ["publickey"] : []),
      ...(opts.password !== undefined ? ["password", "keyboard-interactive"] : []),
    ] as AuthMethods;
    conn.on("authentication", (ctx) => {
      authAttempts.push(ctx.method);
      if (ctx.method === "publickey" && acceptKey) {
        const same = ctx.key.algo === clientPub.type &&
          Buffer.compare(ctx.key.data, clientPub.getPublicSSH()) === 0;
        if (!same) return ctx.reject(methods);
        if (!ctx.signature) return ctx.accept(); // the "would you accept" probe
        return clientPub.verify(ctx.blob!, ctx.signature, ctx.hashAlgo)
          ? ctx.accept()
          : ctx.reject(methods);
      }
      if (ctx.method === "password" && opts.password !== undefined) {
        return ctx.password === opts.password ? ctx.accept() : ctx.reject(methods);
      }
      if (ctx.method === "keyboard-interactive" && opts.password !== undefined) {
        return ctx.prompt([{ prompt: "Password: ", echo: false }], (answers) => {
          answers[0] === opts.password ? ctx.accept() : ctx.reject(methods);
        });
      }
      ctx.reject(methods);
    });
    conn.on("ready", () => {
      ready++;
      conn.on("tcpip", async (accept, reject, info) => {
        if (opts.refuseDirect !== undefined) return reject();
        if (opts.delayDirectMs) await new Promise((r) => setTimeout(r, opts.delayDirectMs));
        const sock = netConnect({ host: info.destIP, port: info.destPort, allowHalfOpen: true });
        sockets.add(sock);
        sock.on("close", () => sockets.delete(sock));
        sock.once("error", () => {
          reject();
          sock.destroy();
        });
        sock.once("connect", () => {
          sock.removeAllListeners("error");
          sock.on("error", () => {});
          splice(sock, accept());
        });
      });
      conn.on("request", (accept, reject, name, info) => {
        if (name !== "tcpip-forward" || opts.refuseForward) return reject?.();
        const fwd = info as { bindAddr: string; bindPort: number };
        const listener = createServer({ allowHalfOpen: true }, (sock) => {
          sockets.add(sock);
          sock.on("close", () => sockets.delete(sock));
          sock.on("error", () => {});
          const named = opts.openWithRequestedPort ? fwd.bindPort : port;
          conn.forwardOut(fwd.bindAddr, named, sock.remoteAddress!, sock.remotePort!, (err, ch) => {
            if (err) return sock.destroy();
            splice(sock, ch);
          });
        });
        let port = fwd.bindPort;
        listener.once("error", () => reject?.());
        listener.listen(fwd.bindPort, "127.0.0.1", () => {
          port = (listener.address() as { port: number }).port;
          netServers.add(listener);
          accept?.(port);
        });
        conn.on("close", () => listener.close());
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const knownHosts = `${dir}/known_hosts`;
  await Deno.writeTextFile(
    knownHosts,
    `[127.0.0.1]:${port} ssh-ed25519 ${btoa(String.fromCharCode(...hostKeyBlob))}\n`,
  );

  // A frozen socket never reads, so it would never see the peer's FIN and
  // close; end() alone would leave it (and server.close()) waiting forever.
  const frozen = new Set<Socket>();
  const close = async () => {
    for (const s of sockets) s.destroy();
    for (const s of frozen) s.destroy();
    for (const c of conns) c.end();
    for (const l of netServers) l.close();
    await new Promise<void>((r) => server.close(() => r()));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  return {
    port,
    dir,
    clientKey,
    knownHosts,
    hostKeyBlob,
    authAttempts,
    readyCount: () => ready,
    dropAll() {
      for (const c of conns) (c as unknown as { _sock: Socket })._sock.destroy();
    },
    freeze() {
      for (const c of conns) {
        const sock = (c as unknown as { _sock: Socket })._sock;
        sock.pause();
        sock.removeAllListeners("data");
        frozen.add(sock);
      }
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Copy both ways with half-close, like sshd does for a forwarded socket. */
function splice(sock: Socket, ch: NodeJS.ReadWriteStream & { destroy(): void }): void {
  // ssh2 closes a server-side channel as soon as its write side ends; sshd
  // keeps it half-open for TCP channels, and so must this stand-in.
  keepHalfOpen(ch);
  sock.pipe(ch);
  ch.pipe(sock);
  ch.on("error", () => sock.destroy());
  // A channel that ended cleanly has ended the socket through the pipe, and
  // what the socket has not written yet (a slow reader) must still go out.
  ch.on("close", () => {
    if (!sock.writableEnded) sock.destroy();
  });
  // After a clean close the pipe has ended the channel, and bytes may still
  // be queued in it waiting for window: destroying it would drop them.
  sock.on("close", (hadError: boolean) => {
    if (hadError) ch.destroy();
  });
}
