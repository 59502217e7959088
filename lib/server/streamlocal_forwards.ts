/**
 * One client's remote Unix socket tunnels (streamlocal-forward@openssh.com,
 * `ssh -R /path.sock:host:port`): listen on the path (mode 0600, a stale
 * socket replaced, anything else there refused: lib/tunnel/streamlocal.ts),
 * hand each accepted connection to the client as a
 * forwarded-streamlocal@openssh.com channel, remove the socket on cancel
 * and when the client goes.
 */
import { messageOf } from "../errors.ts";
import type { Connection, ServerChannel } from "../ssh/ssh2.ts";
import { acceptLoop, type ConnectionSet, logClosed } from "../tunnel/connections.ts";
import { listenUnix, removeOwnSocket } from "../tunnel/streamlocal.ts";
import { pump } from "../tunnel/pump.ts";
import { closeQuietly } from "../net/io.ts";
import { keepHalfOpen } from "./ssh2_internals.ts";
import type { ForwardLog } from "./remote_forwards.ts";

interface Forward {
  listener: Deno.UnixListener;
  ino: number | null;
}

export class StreamLocalForwards {
  #conn: Connection;
  #conns: ConnectionSet;
  #log: ForwardLog;
  #forwards = new Map<string, Forward>();

  constructor(conn: Connection, conns: ConnectionSet, log: ForwardLog) {
    this.#conn = conn;
    this.#conns = conns;
    this.#log = log;
  }

  /** Listen on `path`; throws a one-line reason. */
  async add(path: string): Promise<void> {
    if (this.#forwards.has(path)) throw new Error("this connection listens there already");
    const listener = await listenUnix(path);
    const ino = (await Deno.lstat(path)).ino;
    this.#forwards.set(path, { listener, ino });
    this.#log.info(`remote forward on ${path}`);
    this.#conns.track(this.#accept(path, listener));
  }

  #accept(path: string, listener: Deno.UnixListener): Promise<void> {
    // Ends when cancel() or closeAll() closes the listener.
    return acceptLoop(
      listener,
      this.#conns,
      (sock) => this.#conns.serve(sock, () => this.#serve(path, sock)),
    );
  }

  async #serve(path: string, sock: Deno.UnixConn): Promise<void> {
    let channel: ServerChannel;
    try {
      channel = await new Promise<ServerChannel>((resolve, reject) => {
        this.#conn.openssh_forwardOutStreamLocal(
          path,
          (err, ch) => err ? reject(err) : resolve(ch),
        );
      });
    } catch (err) {
      this.#log.info(`forwarded-streamlocal to the client for ${path}: ${messageOf(err)}`);
      return closeQuietly(sock);
    }
    keepHalfOpen(channel);
    const started = performance.now();
    const r = await pump(sock, channel);
    channel.close();
    logClosed(path, "the client", r, started);
  }

  /** Stop listening on `path`; false if this connection did not listen there. */
  cancel(path: string): boolean {
    const f = this.#forwards.get(path);
    if (!f) return false;
    this.#forwards.delete(path);
    this.#close(path, f);
    return true;
  }

  closeAll(): void {
    for (const [path, f] of this.#forwards) this.#close(path, f);
    this.#forwards.clear();
  }

  /** Stop listening, then remove the socket file (unless replaced meanwhile). */
  #close(path: string, f: Forward): void {
    closeQuietly(f.listener);
    this.#conns.track(
      removeOwnSocket(path, f.ino).then(() =>
        this.#log.info(`remote forward on ${path} cancelled`)
      ),
    );
  }
}
