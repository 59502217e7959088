/**
 * A scripted in-process FTP server for fast tunnel tests (the real-peer tests
 * use vsftpd, tests/_harness/vsftpd.ts). It serves RETR of fixed files in
 * PASV, EPSV, PORT and EPRT, records every command line it receives, and can
 * send replies real servers would not: `SAY <text>` writes <text> + CRLF
 * raw (a literal `\n` in it becomes CRLF), `pasvHost` changes the address
 * in 227 replies (a hostile server names another host's; `pasvPort` then
 * fixes its own passive port to that of the host it names), and `multiline227`
 * spreads the 227 over several lines; `hostname` (e.g. "::1") is where it
 * listens.
 */
import { ACCEPT_TIMEOUT_MS, acceptWithin } from "./ftp_client.ts";
import { readAll } from "./local_servers.ts";
import { writeAll } from "../../lib/net/io.ts";

export interface FakeFtpOptions {
  files?: Record<string, Uint8Array>;
  /** Address numbers for 227 replies, e.g. "0,0,0,0" (default 127,0,0,1). */
  pasvHost?: string;
  /** The port of the passive listener (default: any free one). */
  pasvPort?: number;
  multiline227?: boolean;
  /** The address to listen on, control and passive data (default 127.0.0.1). */
  hostname?: string;
}

export interface FakeFtp extends AsyncDisposable {
  port: number;
  /** Command lines received, in order, without CRLF. */
  commands: string[];
  close(): Promise<void>;
}

const enc = new TextEncoder();
export function startFakeFtp(options: FakeFtpOptions = {}): FakeFtp {
  const hostname = options.hostname ?? "127.0.0.1";
  const listener = Deno.listen({ hostname, port: 0 });
  const commands: string[] = [];
  const resources = new Set<{ close(): void }>();
  const tasks = new Set<Promise<void>>();
  const track = (p: Promise<void>) => {
    const t = p.catch(() => {});
    tasks.add(t);
    t.finally(() => tasks.delete(t));
  };
  const closeQuietly = (r: { close(): void }) => {
    try {
      r.close();
    } catch { /* closed */ }
    resources.delete(r);
  };

  async function session(conn: Deno.TcpConn): Promise<void> {
    resources.add(conn);
    const say = (text: string) => writeAll(conn, enc.encode(`${text}\r\n`));
    let pasv: Deno.TcpListener | undefined;
    let port: { hostname: string; port: number } | undefined;
    await say("220 fake ftp ready");
    let pending = "";
    const buf = new Uint8Array(4096);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) return;
        pending += new TextDecoder().decode(buf.subarray(0, n));
        let lf;
        while ((lf = pending.indexOf("\n")) >= 0) {
          const line = pending.slice(0, lf).replace(/\r$/, "");
          pending = pending.slice(lf + 1);
          commands.push(line);
          const [verb, ...rest] = line.split(" ");
          const arg = rest.join(" ");
          switch (verb.toUpperCase()) {
            case "USER":
              await say("331 password please");
              break;
            case "PASS":
              await say("230 logged in");
              break;
            case "TYPE":
            case "NOOP":
              await say("200 ok");
              break;
            case "SAY":
              await say(arg.replaceAll("\\n", "\r\n"));
              break;
            case "PASV":
            case "EPSV": {
              if (pasv) closeQuietly(pasv);
              pasv = Deno.listen({ hostname, port: options.pasvPort ?? 0 });
              resources.add(pasv);
              port = undefined;
              const p = pasv.addr.port;
              if (verb.toUpperCase() === "EPSV") {
                await say(`229 Entering Extended Passive Mode (|||${p}|)`);
              } else {
                const addr = `${options.pasvHost ?? "127,0,0,1"},${p >> 8},${p & 255}`;
                await say(
                  options.multiline227
                    ? `227-Entering Passive Mode\r\n227-(${addr})\r\n227 ok`
                    : `227 Entering Passive Mode (${addr}).`,
                );
              }
              break;
            }
            case "PORT": {
              const n = arg.split(",").map(Number);
              port = { hostname: n.slice(0, 4).join("."), port: n[4] * 256 + n[5] };
              await say("200 PORT ok");
              break;
            }
            case "EPRT": {
              const f = arg.split(arg[0]);
              port = { hostname: f[2], port: Number(f[3]) };
              await say("200 EPRT ok");
              break;
            }
            case "RETR": {
              const file = options.files?.[arg];
              if (!file) {
                await say("550 no such file");
                break;
              }
              await say("150 here it comes");
              let data: Deno.TcpConn | undefined;
              if (port) data = await Deno.connect(port);
              else {
                data = await acceptWithin(pasv!, ACCEPT_TIMEOUT_MS);
                closeQuietly(pasv!);
                pasv = undefined;
              }
              if (!data) {
                await say("425 no data connection");
                break;
              }
              resources.add(data);
              await writeAll(data, file);
              await data.closeWrite();
              await readAll(data);
              closeQuietly(data);
              port = undefined;
              await say("226 done");
              break;
            }
            case "QUIT":
              await say("221 bye");
              return;
            default:
              await say("500 unknown command");
          }
        }
      }
    } finally {
      if (pasv) closeQuietly(pasv);
      closeQuietly(conn);
    }
  }

  const loop = (async () => {
    for await (const conn of listener) track(session(conn));
  })().catch(() => {});
  const close = async () => {
    try {
      listener.close();
    } catch { /* closed */ }
    for (const r of [...resources]) closeQuietly(r);
    await loop;
    while (tasks.size > 0) await Promise.allSettled([...tasks]);
  };
  return { port: listener.addr.port, commands, close, [Symbol.asyncDispose]: close };
}
