/**
 * A minimal raw FTP client for tests: reads RFC 959 replies (multi-line
 * too), and runs one RETR/STOR in each of the four data modes (PASV, EPSV,
 * PORT, EPRT). It does exactly what it is told, so tests can also send what
 * real clients never would (a bounce PORT, AUTH TLS, junk).
 */
import { writeAll } from "../../lib/net/io.ts";
import { readAll } from "./local_servers.ts";

export interface Reply {
  code: number;
  text: string;
}

export type DataMode = "pasv" | "epsv" | "port" | "eprt";

const enc = new TextEncoder();
const dec = new TextDecoder("latin1");

/** How long a data listener waits, as real clients and servers do (vsftpd: accept_timeout). */
export const ACCEPT_TIMEOUT_MS = 5_000;

/** The listener's next connection, or undefined after `ms`: a lost transfer fails, not hangs. */
export async function acceptWithin(
  listener: Deno.TcpListener,
  ms: number,
): Promise<Deno.TcpConn | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), ms));
  try {
    return await Promise.race([listener.accept(), late]);
  } finally {
    clearTimeout(timer);
  }
}

export class MiniFtp implements AsyncDisposable {
  readonly conn: Deno.TcpConn;
  #buffer = "";
  #readBuf = new Uint8Array(4096);

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  /** Connect and read the greeting. */
  static async connect(hostname: string, port: number): Promise<[MiniFtp, Reply]> {
    const ftp = new MiniFtp(await Deno.connect({ hostname, port }));
    try {
      return [ftp, await ftp.reply()];
    } catch (err) {
      ftp.close();
      throw err;
    }
  }

  async #line(): Promise<string> {
    for (;;) {
      const lf = this.#buffer.indexOf("\n");
      if (lf >= 0) {
        const line = this.#buffer.slice(0, lf + 1);
        this.#buffer = this.#buffer.slice(lf + 1);
        return line;
      }
      const n = await this.conn.read(this.#readBuf);
      if (n === null) throw new Error(`control connection closed (pending: ${this.#buffer})`);
      this.#buffer += dec.decode(this.#readBuf.subarray(0, n));
    }
  }

  /** One whole reply; `text` keeps every line with its CRLF. */
  async reply(): Promise<Reply> {
    let text = await this.#line();
    const code = /^(\d{3})([ -])/.exec(text);
    if (!code) return { code: 0, text };
    if (code[2] === "-") {
      for (;;) {
        const line = await this.#line();
        text += line;
        if (line.startsWith(`${code[1]} `)) break;
      }
    }
    return { code: Number(code[1]), text };
  }

  async send(line: string): Promise<void> {
    await writeAll(this.conn, enc.encode(`${line}\r\n`));
  }

  async command(line: string): Promise<Reply> {
    await this.send(line);
    return await this.reply();
  }

  async expect(line: string, code: number): Promise<Reply> {
    const r = await this.command(line);
    if (r.code !== code) throw new Error(`${line}: expected ${code}, got ${r.text.trim()}`);
    return r;
  }

  async login(user = "anonymous", pass = "test@"): Promise<void> {
    const r = await this.command(`USER ${user}`);
    if (r.code === 331) await this.expect(`PASS ${pass}`, 230);
    else if (r.code !== 230) throw new Error(`USER: ${r.text}`);
    await this.expect("TYPE I", 200);
  }

  /** Open the data connection for `command` (RETR/STOR/LIST) in `mode`. */
  async transfer(
    mode: DataMode,
    command: string,
    upload?: Uint8Array,
  ): Promise<Uint8Array> {
    let data: Deno.TcpConn;
    if (mode === "pasv" || mode === "epsv") {
      const r = await this.expect(mode.toUpperCase(), mode === "pasv" ? 227 : 229);
      let host = this.conn.remoteAddr.hostname;
      let port: number;
      if (mode === "pasv") {
        const m = /(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)/.exec(r.text)!;
        host = m.slice(1, 5).join(".");
        port = Number(m[5]) * 256 + Number(m[6]);
      } else port = Number(/\(\|\|\|(\d+)\|\)/.exec(r.text)![1]);
      data = await Deno.connect({ hostname: host, port });
      const pre = await this.command(command);
      if (pre.code !== 150 && pre.code !== 125) {
        data.close();
        throw new Error(`${command}: ${pre.text}`);
      }
    } else {
      const local = this.conn.localAddr.hostname;
      const listener = Deno.listen({ hostname: local, port: 0 });
      try {
        const p = listener.addr.port;
        const arg = mode === "port"
          ? `PORT ${local.split(".").join(",")},${p >> 8},${p & 255}`
          : `EPRT |${local.includes(":") ? 2 : 1}|${local}|${p}|`;
        await this.expect(arg, 200);
        const pre = await this.command(command);
        if (pre.code !== 150 && pre.code !== 125) throw new Error(`${command}: ${pre.text}`);
        const conn = await acceptWithin(listener, ACCEPT_TIMEOUT_MS);
        if (!conn) throw new Error(`${command}: no data connection came`);
        data = conn;
      } finally {
        listener.close();
      }
    }
    let received: Uint8Array;
    try {
      if (upload) {
        await writeAll(data, upload);
        await data.closeWrite();
      }
      received = await readAll(data);
    } finally {
      data.close();
    }
    const done = await this.reply();
    if (done.code !== 226) throw new Error(`${command}: ${done.text}`);
    return received;
  }

  close(): void {
    try {
      this.conn.close();
    } catch { /* closed */ }
  }

  async quit(): Promise<void> {
    try {
      await this.command("QUIT");
    } catch { /* gone */ }
    this.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.quit();
  }
}
