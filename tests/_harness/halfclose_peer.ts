/**
 * Both ends of a half-close exchange, for the half-close matrix
 * (tests/halfclose_test.ts) and the peer matrix (tests/peers_test.ts). Run as
 * its own program (`deno run --allow-net halfclose_peer.ts ...`), usually
 * inside a test namespace, or imported for `exchange()`.
 *
 * An exchange moves `bytes` each way over one TCP connection, in one of two
 * orders. The side that goes first sends everything and half-closes (FIN)
 * while it reads; the other side reads until that EOF and only then sends
 * its own bytes, half-closes and closes. Each side reports what it sent and
 * what it received as a byte count and a SHA-256, so a tunnel that drops,
 * adds or reorders one byte in either direction shows as a mismatch. The
 * side that goes first reads the last 4 MiB of the other's bytes slowly (a
 * 2 ms pause per read), so that the stream sent second backs up into the
 * tunnel and is still queued there, waiting for the SSH window, when its
 * sender closes: the moment a tunnel that closes too early loses bytes.
 *
 *   listen --host H [--bytes N] [--seed S (default 1)]
 *     The far side (an origin server). Listens on six ports of H, printing
 *     one JSON line when ready: {"sendFirst":P,"receiveFirst":P,
 *     "ftpSendFirst":P,"ftpReceiveFirst":P,"probe":P,"abort":P}. `probe` writes
 *     "probe\n" on each connection and closes it, unreported: a client may
 *     dial its forward of it to learn that its tunnels are up. `abort` (also
 *     unreported) sends N bytes without reading and closes, so a client that
 *     is still sending sees a reset in mid-stream. On sendFirst and receiveFirst each
 *     connection is one exchange, going first or second. The ftp ports are a
 *     minimal FTP server (USER, PASS, TYPE, PASV, EPSV, RETR, QUIT) whose
 *     RETR data connection carries the exchange both ways instead of a file,
 *     and whose 226 reply carries the server's report. Every finished
 *     exchange prints {"listener":NAME,...report} on stdout. With --unix DIR
 *     it also listens on the Unix sockets DIR/unixSendFirst.sock and
 *     DIR/unixReceiveFirst.sock (listeners unixSendFirst, unixReceiveFirst).
 *
 *   probe --host H --port P
 *     Dials H:P (for 20 s at most) until it leads to a `probe` port: prints
 *     "up" and exits 0, or exits 1 saying what it saw last.
 *
 *   connect --host H --port P --first send|receive [--bytes N] [--seed S (default 2)]
 *           [--socks HOST:PORT] [--ftp] [--unix PATH]
 *     The near side (a client); with --unix it dials the Unix socket PATH
 *     instead of H:P. With --socks it first asks a SOCKS5 proxy
 *     at H:P for HOST:PORT; with --ftp it logs in to the FTP server at H:P,
 *     asks PASV and RETR and runs the exchange on the data connection. It
 *     prints one JSON line: its report, plus "far" (the server's report from
 *     the 226 reply) with --ftp, and exits 0; 1 when it cannot connect (or
 *     on a usage error), saying why on stderr.
 */
import { createHash, type Hash } from "node:crypto";
import { parseArgs } from "node:util";
import { Pattern } from "./pattern.ts";

export type First = "send" | "receive";

export interface ExchangeReport {
  sent: number;
  sentSha: string;
  received: number;
  receivedSha: string;
  /** What went wrong, when the exchange did not finish cleanly. */
  error?: string;
}

const CHUNK = 64 * 1024;
/** The first side reads the last this many bytes of the other's slowly. */
const SLOW_TAIL = 4 * 1024 * 1024;

/** Run one exchange on `conn` (see above); never throws, closes `conn`. */
export async function exchange(
  conn: Deno.Conn,
  first: First,
  bytes: number,
  seed = 1,
): Promise<ExchangeReport> {
  const sent = { n: 0, hash: createHash("sha256") };
  const received = { n: 0, hash: createHash("sha256") };
  const errors: string[] = [];
  const note = (what: string) => (err: unknown) => {
    errors.push(`${what}: ${err instanceof Error ? err.message : err}`);
  };
  const send = async () => {
    const pattern = new Pattern(seed);
    const buf = new Uint8Array(CHUNK);
    while (sent.n < bytes) {
      const chunk = pattern.fill(buf.subarray(0, Math.min(CHUNK, bytes - sent.n)));
      for (let off = 0; off < chunk.length;) {
        const n = await conn.write(chunk.subarray(off));
        sent.hash.update(chunk.subarray(off, off + n));
        sent.n += n;
        off += n;
      }
    }
    await conn.closeWrite();
  };
  const receive = async (slow = false) => {
    const buf = new Uint8Array(CHUNK);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) return;
      received.hash.update(buf.subarray(0, n));
      received.n += n;
      if (slow && received.n >= bytes - SLOW_TAIL) await new Promise((r) => setTimeout(r, 2));
    }
  };
  try {
    if (first === "send") {
      // Slower than the tunnel: the second stream backs up into it.
      const reading = receive(true).catch(note("receive"));
      await send().catch(note("send"));
      await reading;
    } else {
      await receive().catch(note("receive"));
      if (errors.length === 0) await send().catch(note("send"));
    }
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
  return report(sent, received, errors);
}

function report(
  sent: { n: number; hash: Hash },
  received: { n: number; hash: Hash },
  errors: string[],
): ExchangeReport {
  return {
    sent: sent.n,
    sentSha: sent.hash.digest("hex"),
    received: received.n,
    receivedSha: received.hash.digest("hex"),
    ...(errors.length ? { error: errors.join("; ") } : {}),
  };
}

// --- FTP ----------------------------------------------------------------------

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Reads CRLF lines from a control connection (replies or commands). */
class Lines {
  #buf = "";
  #chunk = new Uint8Array(4096);
  constructor(readonly conn: Deno.Conn) {}

  async next(): Promise<string | null> {
    for (;;) {
      const lf = this.#buf.indexOf("\n");
      if (lf >= 0) {
        const line = this.#buf.slice(0, lf).replace(/\r$/, "");
        this.#buf = this.#buf.slice(lf + 1);
        return line;
      }
      const n = await this.conn.read(this.#chunk);
      if (n === null) return null;
      this.#buf += dec.decode(this.#chunk.subarray(0, n));
    }
  }

  /** The next reply whose code is not a 1xx preliminary, or the 1xx when `preliminary`. */
  async reply(preliminary = false): Promise<string> {
    for (;;) {
      const line = await this.next();
      if (line === null) throw new Error("control connection closed");
      if (!/^\d{3} /.test(line)) continue; // continuation lines
      if (preliminary || line[0] !== "1") return line;
    }
  }

  async say(text: string): Promise<void> {
    const data = enc.encode(`${text}\r\n`);
    for (let off = 0; off < data.length;) off += await this.conn.write(data.subarray(off));
  }
}

/** One FTP control session of the `listen` side; resolves after QUIT or EOF. */
async function ftpSession(
  conn: Deno.TcpConn,
  first: First,
  bytes: number,
  seed: number,
  done: (r: ExchangeReport) => void,
): Promise<void> {
  const ctl = new Lines(conn);
  const host = (conn.localAddr as Deno.NetAddr).hostname;
  let pasv: Deno.TcpListener | undefined;
  try {
    await ctl.say("220 half-close ftp ready");
    for (;;) {
      const line = await ctl.next();
      if (line === null) return;
      const verb = line.split(" ")[0].toUpperCase();
      if (verb === "USER") await ctl.say("331 any password");
      else if (verb === "PASS") await ctl.say("230 logged in");
      else if (verb === "TYPE") await ctl.say("200 ok");
      else if (verb === "PASV" || verb === "EPSV") {
        pasv?.close();
        pasv = Deno.listen({ hostname: host, port: 0 });
        const p = pasv.addr.port;
        await ctl.say(
          verb === "EPSV"
            ? `229 Entering Extended Passive Mode (|||${p}|)`
            : `227 Entering Passive Mode (${host.replaceAll(".", ",")},${p >> 8},${p & 255})`,
        );
      } else if (verb === "RETR" && pasv) {
        await ctl.say("150 exchanging");
        const data = await pasv.accept();
        pasv.close();
        pasv = undefined;
        const r = await exchange(data, first, bytes, seed);
        done(r);
        await ctl.say(`226 ${JSON.stringify(r)}`);
      } else if (verb === "QUIT") {
        await ctl.say("221 bye");
        return;
      } else await ctl.say("502 not here");
    }
  } catch {
    // The client went away; its own report says what it saw.
  } finally {
    try {
      pasv?.close();
    } catch { /* closed */ }
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

/** The near side of an FTP exchange: login, PASV, RETR, exchange, the 226 report. */
async function ftpClient(
  conn: Deno.TcpConn,
  first: First,
  bytes: number,
  seed: number,
): Promise<ExchangeReport & { far?: ExchangeReport }> {
  const ctl = new Lines(conn);
  try {
    const expect = async (code: string, preliminary = false) => {
      const r = await ctl.reply(preliminary);
      if (!r.startsWith(code)) throw new Error(`expected ${code}, got: ${r}`);
      return r;
    };
    await expect("220");
    await ctl.say("USER anonymous");
    await expect("331");
    await ctl.say("PASS x");
    await expect("230");
    await ctl.say("TYPE I");
    await expect("200");
    await ctl.say("PASV");
    const m = /\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(await expect("227"));
    if (!m) throw new Error("no address in the 227 reply");
    const data = await Deno.connect({
      hostname: m.slice(1, 5).join("."),
      port: Number(m[5]) * 256 + Number(m[6]),
    });
    await ctl.say("RETR exchange");
    const ex = exchange(data, first, bytes, seed);
    await expect("150", true);
    const mine = await ex;
    const done = await expect("226");
    const far = JSON.parse(done.slice(4)) as ExchangeReport;
    await ctl.say("QUIT");
    await ctl.reply().catch(() => {});
    return { ...mine, far };
  } catch (err) {
    const empty = createHash("sha256").digest("hex");
    return {
      sent: 0,
      sentSha: empty,
      received: 0,
      receivedSha: empty,
      error: `ftp: ${err instanceof Error ? err.message : err}`,
    };
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

// --- SOCKS5 -------------------------------------------------------------------

async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  for (let off = 0; off < n;) {
    const got = await conn.read(out.subarray(off));
    if (got === null) throw new Error(`EOF after ${off} of ${n} bytes`);
    off += got;
  }
  return out;
}

/** A SOCKS5 CONNECT to host:port by name, no authentication. */
async function socks5(conn: Deno.Conn, host: string, port: number): Promise<void> {
  const write = async (b: number[] | Uint8Array) => {
    const data = b instanceof Uint8Array ? b : new Uint8Array(b);
    for (let off = 0; off < data.length;) off += await conn.write(data.subarray(off));
  };
  await write([5, 1, 0]);
  const hello = await readExactly(conn, 2);
  if (hello[0] !== 5 || hello[1] !== 0) throw new Error(`SOCKS5 method reply ${hello}`);
  const name = enc.encode(host);
  await write([5, 1, 0, 3, name.length, ...name, port >> 8, port & 255]);
  const head = await readExactly(conn, 4);
  if (head[1] !== 0) throw new Error(`SOCKS5 CONNECT failed with reply ${head[1]}`);
  const rest = head[3] === 1 ? 4 : head[3] === 4 ? 16 : (await readExactly(conn, 1))[0];
  await readExactly(conn, rest + 2);
}

/** Send `bytes` without reading, then close: a client still sending gets a reset mid-stream. */
async function abort(conn: Deno.Conn, bytes: number, seed: number): Promise<void> {
  const pattern = new Pattern(seed);
  const buf = new Uint8Array(CHUNK);
  try {
    for (let left = bytes; left > 0; left -= CHUNK) {
      const chunk = pattern.fill(buf.subarray(0, Math.min(CHUNK, left)));
      for (let off = 0; off < chunk.length;) off += await conn.write(chunk.subarray(off));
    }
  } catch { /* the client went first */ }
  try {
    conn.close();
  } catch { /* closed */ }
}

// --- The program ----------------------------------------------------------------

function die(text: string): never {
  console.error(`halfclose_peer: ${text}`);
  Deno.exit(1);
}

/** The Unix socket listeners of `listen --unix DIR`, and their paths. */
export const UNIX_LISTENERS = ["unixSendFirst", "unixReceiveFirst"] as const;
export function unixListenerPath(dir: string, name: (typeof UNIX_LISTENERS)[number]): string {
  return `${dir}/${name}.sock`;
}

async function listenUnix(dir: string, bytes: number, seed: number): Promise<void> {
  await Promise.all(UNIX_LISTENERS.map(async (name) => {
    const l = Deno.listen({ transport: "unix", path: unixListenerPath(dir, name) });
    const first: First = /send/i.test(name) ? "send" : "receive";
    for await (const conn of l) {
      exchange(conn, first, bytes, seed).then((r) =>
        console.log(JSON.stringify({ listener: name, ...r }))
      );
    }
  }));
}

async function listen(host: string, bytes: number, seed: number, unixDir?: string): Promise<void> {
  const names = [
    "sendFirst",
    "receiveFirst",
    "ftpSendFirst",
    "ftpReceiveFirst",
    "probe",
    "abort",
  ] as const;
  const ports: Record<string, number> = {};
  const print = (listener: string) => (r: ExchangeReport) =>
    console.log(JSON.stringify({ listener, ...r }));
  const loops = names.map((name) => {
    const l = Deno.listen({ hostname: host, port: 0 });
    ports[name] = l.addr.port;
    const first: First = /send/i.test(name) ? "send" : "receive";
    return (async () => {
      for await (const conn of l) {
        conn.setNoDelay(true);
        if (name === "probe") {
          conn.write(enc.encode("probe\n")).catch(() => {}).finally(() => conn.close());
        } else if (name === "abort") abort(conn, bytes, seed);
        else if (name.startsWith("ftp")) ftpSession(conn, first, bytes, seed, print(name));
        else exchange(conn, first, bytes, seed).then(print(name));
      }
    })();
  });
  // The Unix listeners are bound before the ready line.
  const unix = unixDir === undefined ? [] : [listenUnix(unixDir, bytes, seed)];
  console.log(JSON.stringify(ports));
  await Promise.all([...loops, ...unix]);
}

/** Dial host:port until it leads to a `probe` port (its line arrives), or `ms` pass. */
async function waitForProbe(host: string, port: number, ms: number): Promise<string | undefined> {
  const deadline = Date.now() + ms;
  let last = "nothing tried";
  while (Date.now() < deadline) {
    try {
      const conn = await Deno.connect({ hostname: host, port });
      // A tunnel whose channel never opens would keep this read waiting.
      const timer = setTimeout(() => conn.close(), 3_000);
      try {
        const buf = new Uint8Array(16);
        const n = await conn.read(buf);
        if (n !== null && dec.decode(buf.subarray(0, n)).startsWith("probe")) return undefined;
        last = "the tunnel closed without the probe's line";
      } finally {
        clearTimeout(timer);
        try {
          conn.close();
        } catch { /* closed by the timer */ }
      }
    } catch (err) {
      last = err instanceof Error ? err.message : `${err}`;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return last;
}

if (import.meta.main) {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string" },
      first: { type: "string" },
      bytes: { type: "string", default: `${1024 * 1024}` },
      seed: { type: "string" },
      socks: { type: "string" },
      ftp: { type: "boolean", default: false },
      unix: { type: "string" },
    },
  });
  const bytes = Number(values.bytes);
  // The two sides send different bytes, so a tunnel that echoes cannot pass.
  const seed = Number(values.seed ?? (positionals[0] === "listen" ? 1 : 2));
  if (!Number.isInteger(bytes) || bytes < 0) die(`bad --bytes ${values.bytes}`);
  if (positionals[0] === "listen") await listen(values.host, bytes, seed, values.unix);
  else if (positionals[0] === "connect") {
    const first = values.first;
    if (first !== "send" && first !== "receive") die("--first must be send or receive");
    const path = values.unix;
    if (path !== undefined && values.ftp) die("--ftp is over TCP, not --unix");
    const conn: Deno.Conn = path !== undefined
      ? await Deno.connect({ transport: "unix", path })
        .catch((err) => die(`cannot connect to ${path}: ${err.message}`))
      : await Deno.connect({ hostname: values.host, port: Number(values.port) })
        .then((c) => (c.setNoDelay(true), c))
        .catch((err) => die(`cannot connect to ${values.host}:${values.port}: ${err.message}`));
    let r: ExchangeReport;
    if (values.ftp) r = await ftpClient(conn as Deno.TcpConn, first, bytes, seed);
    else {
      if (values.socks !== undefined) {
        const i = values.socks.lastIndexOf(":");
        await socks5(conn, values.socks.slice(0, i), Number(values.socks.slice(i + 1)))
          .catch((err) => die(`SOCKS5 handshake: ${err.message}`));
      }
      r = await exchange(conn, first, bytes, seed);
    }
    console.log(JSON.stringify(r));
  } else if (positionals[0] === "probe") {
    const why = await waitForProbe(values.host, Number(values.port), 20_000);
    if (why) die(`no probe line from ${values.host}:${values.port}: ${why}`);
    console.log("up");
  } else die("expected 'listen', 'connect' or 'probe'");
}
