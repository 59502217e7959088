/**
 * The control-channel rewriters, byte by byte: every transcript is fed whole,
 * split at every point, and one byte at a time, and must give the same
 * events; random input must come out byte for byte.
 */
import assert from "node:assert/strict";
import {
  type CommandEvent,
  formatActiveCommand,
  FtpCommandRewriter,
  FtpReplyRewriter,
  type ReplyEvent,
  rewriteExtendedPassiveReply,
  rewritePassiveReply,
} from "./ftp.ts";
import { concat } from "../net/io.ts";
import { latin1, latin1Bytes, MAX_LINE } from "./ftp_parse.ts";

type Event = ReplyEvent | CommandEvent;
type Machine = { feed(b: Uint8Array): Event[]; end(): Event[] };

const bytes = (s: string) => latin1Bytes(s);

/** Merge adjacent pass events and drop warnings' text differences. */
function normalize(events: Event[]): unknown[] {
  const out: unknown[] = [];
  for (const e of events) {
    const last = out[out.length - 1] as { kind: string; text: string } | undefined;
    if (e.kind === "pass") {
      if (last?.kind === "pass") last.text += latin1(e.bytes);
      else out.push({ kind: "pass", text: latin1(e.bytes) });
    } else if (e.kind === "warn") {
      if (last?.kind !== "warn") out.push({ kind: "warn" });
    } else {
      const copy: Record<string, unknown> = { ...e };
      for (const k of ["reply", "line"]) {
        if (copy[k] instanceof Uint8Array) copy[k] = latin1(copy[k] as Uint8Array);
      }
      out.push(copy);
    }
  }
  return out;
}

function feedChunks(make: () => Machine, chunks: Uint8Array[]): unknown[] {
  const m = make();
  const events: Event[] = [];
  for (const c of chunks) events.push(...m.feed(c));
  events.push(...m.end());
  return normalize(events);
}

/** Feed whole, at every split point, and byte by byte: all must agree. */
function everySplit(make: () => Machine, text: string): unknown[] {
  const data = bytes(text);
  const whole = feedChunks(make, [data]);
  for (let i = 1; i < data.length; i++) {
    const split = feedChunks(make, [data.subarray(0, i), data.subarray(i)]);
    assert.deepEqual(split, whole, `split at ${i}`);
  }
  const single = feedChunks(make, [...data].map((b) => new Uint8Array([b])));
  assert.deepEqual(single, whole, "byte by byte");
  return whole;
}

const replies = () => new FtpReplyRewriter();
const commands = (client = "127.0.0.1") => () => new FtpCommandRewriter({ clientAddress: client });

Deno.test("FtpReplyRewriter passes ordinary replies through unchanged at every split", () => {
  const text = "220-Welcome\r\n220-227 is not a code here\r\n220 Ready\r\n" +
    "331 Please specify the password.\r\n230 Login successful.\r\n" +
    "150 Here comes the directory listing.\n226 Directory send OK.\r\n";
  assert.deepEqual(everySplit(replies, text), [{ kind: "pass", text }]);
});

Deno.test("FtpReplyRewriter finds the address of a 227 reply at every split", () => {
  const reply = "227 Entering Passive Mode (10,1,60,99,6,12).\r\n";
  const text = "200 Switching to Binary mode.\r\n" + reply + "150 Opening\r\n";
  assert.deepEqual(everySplit(replies, text), [
    { kind: "pass", text: "200 Switching to Binary mode.\r\n" },
    { kind: "passive", reply, host: "10.1.60.99", port: 1548 },
    { kind: "pass", text: "150 Opening\r\n" },
  ]);
});

Deno.test("FtpReplyRewriter holds a 227- multi-line reply until its last line", () => {
  const reply = "227-Entering Passive Mode\r\n 227 still text\r\n" +
    "227-(127,0,0,1,156,64)\r\n227 OK\r\n";
  assert.deepEqual(everySplit(replies, reply + "226 done\r\n"), [
    { kind: "passive", reply, host: "127.0.0.1", port: 40000 },
    { kind: "pass", text: "226 done\r\n" },
  ]);
  const rewritten = rewritePassiveReply(bytes(reply), "127.0.0.1", 4021);
  assert.equal(
    latin1(rewritten),
    "227-Entering Passive Mode\r\n 227 still text\r\n227-(127,0,0,1,15,181)\r\n227 OK\r\n",
  );
});

Deno.test("FtpReplyRewriter reads 229 replies with any delimiter", () => {
  const text = "229 Entering Extended Passive Mode (|||40001|)\r\n" +
    "229 Entering Extended Passive Mode (!!!6446!)\n";
  assert.deepEqual(everySplit(replies, text), [
    { kind: "extended-passive", reply: text.slice(0, 48), port: 40001 },
    { kind: "extended-passive", reply: text.slice(48), port: 6446 },
  ]);
  assert.equal(
    latin1(rewriteExtendedPassiveReply(bytes(text.slice(48)), 31337)),
    "229 Entering Extended Passive Mode (!!!31337!)\n",
  );
});

Deno.test("rewritePassiveReply() changes only the numbers, even without parentheses", () => {
  const reply = bytes("227 =10,1,60,99,6,12 \xe9t\xe9\r\n");
  assert.equal(
    latin1(rewritePassiveReply(reply, "127.0.0.1", 65535)),
    "227 =127,0,0,1,255,255 \xe9t\xe9\r\n",
  );
  // A reply without an address comes back as it is.
  const none = bytes("227 nothing here\r\n");
  assert.equal(rewritePassiveReply(none, "127.0.0.1", 1), none);
});

Deno.test("FtpReplyRewriter warns and passes malformed replies unchanged", () => {
  const text =
    "hello\r\n227 Entering Passive Mode (1,2,3)\r\n229 (|||0|)\r\n227 (300,0,0,1,1,1)\r\n";
  const events = everySplit(replies, text);
  const passed = events.filter((e) => (e as { kind: string }).kind === "pass")
    .map((e) => (e as { text: string }).text).join("");
  assert.equal(passed, text);
  assert.ok(!events.some((e) => /passive/.test((e as { kind: string }).kind)));
  assert.ok(events.some((e) => (e as { kind: string }).kind === "warn"));
});

Deno.test("FtpReplyRewriter warns once per run of non-reply lines (a TLS stream is one warning)", () => {
  // Bytes that are not FTP (implicit TLS, say): an LF every 256 bytes or so.
  let x = 7;
  const noise = Uint8Array.from(
    { length: 64 * 1024 },
    () => (x = (x * 1103515245 + 12345) >>> 0) >>> 24,
  );
  const m = new FtpReplyRewriter();
  const events = [...m.feed(noise), ...m.feed(bytes("\r\n200 ok\r\nnot a reply\r\n")), ...m.end()];
  const passed = concat(events.flatMap((e) => e.kind === "pass" ? [e.bytes] : []));
  assert.deepEqual(passed, concat([noise, bytes("\r\n200 ok\r\nnot a reply\r\n")]));
  const warnings = events.filter((e) => e.kind === "warn");
  assert.ok(noise.filter((b) => b === 0x0a).length > 100, "the noise has many lines");
  // One for the noise, one for the line after the real reply.
  assert.equal(warnings.length, 2, JSON.stringify(warnings));
});

Deno.test("FtpReplyRewriter passes an overlong line in pieces and never waits for its end", () => {
  const long = "211-" + "x".repeat(MAX_LINE * 3) + "\r\n211 end\r\n227 (127,0,0,1,0,21)\r\n";
  const m = new FtpReplyRewriter();
  const first = m.feed(bytes(long.slice(0, MAX_LINE + 10)));
  assert.ok(first.some((e) => e.kind === "pass"), "the first piece must pass at once");
  const rest = m.feed(bytes(long.slice(MAX_LINE + 10)));
  const all = [...first, ...rest, ...m.end()];
  assert.deepEqual(all.at(-1), {
    kind: "passive",
    reply: bytes("227 (127,0,0,1,0,21)\r\n"),
    host: "127.0.0.1",
    port: 21,
  });
  // An unterminated tail at EOF comes out too.
  const t = new FtpReplyRewriter();
  assert.deepEqual(t.feed(bytes("227 (1,2,3,4,5,6)")), []);
  assert.deepEqual(normalize(t.end()), [{ kind: "warn" }, {
    kind: "pass",
    text: "227 (1,2,3,4,5,6)",
  }]);
});

Deno.test("FtpReplyRewriter releases a 227- reply that ends early or grows too long", () => {
  const t = new FtpReplyRewriter();
  const early = normalize([...t.feed(bytes("227-(127,0,0,1,1,1)\r\nmore\r\n")), ...t.end()]);
  assert.deepEqual(early, [{ kind: "warn" }, {
    kind: "pass",
    text: "227-(127,0,0,1,1,1)\r\nmore\r\n",
  }]);
  const text = "227-x\r\n" + "line\r\n".repeat(100) + "227 (127,0,0,1,1,1)\r\n";
  const events = everySplit(replies, text);
  assert.equal(events.map((e) => (e as { text?: string }).text ?? "").join(""), text);
});

Deno.test("FtpCommandRewriter turns PORT and EPRT from the client into active events", () => {
  const port = "PORT 127,0,0,1,4,1\r\n";
  const eprt = "eprt |1|127.0.0.1|1026|\n";
  const text = "USER anonymous\r\n" + port + eprt + "RETR f\xe9\r\n";
  assert.deepEqual(everySplit(commands(), text), [
    { kind: "pass", text: "USER anonymous\r\n" },
    { kind: "active", verb: "PORT", host: "127.0.0.1", port: 1025, eol: "\r\n", line: port },
    { kind: "active", verb: "EPRT", host: "127.0.0.1", port: 1026, eol: "\n", line: eprt },
    { kind: "pass", text: "RETR f\xe9\r\n" },
  ]);
});

Deno.test("FtpCommandRewriter compares addresses in one spelling (IPv6, mapped IPv4)", () => {
  const v6 = "EPRT |2|0:0::1|2000|\r\n";
  assert.deepEqual(everySplit(commands("::1"), v6), [
    { kind: "active", verb: "EPRT", host: "0:0::1", port: 2000, eol: "\r\n", line: v6 },
  ]);
  const v4 = "PORT 127,0,0,1,0,80\r\n";
  assert.deepEqual(everySplit(commands("::ffff:127.0.0.1"), v4), [
    { kind: "active", verb: "PORT", host: "127.0.0.1", port: 80, eol: "\r\n", line: v4 },
  ]);
});

Deno.test("FtpCommandRewriter refuses an FTP bounce with 504 and forwards nothing", () => {
  for (
    const line of ["PORT 10,0,0,5,0,25\r\n", "EPRT |1|10.0.0.5|25|\r\n", "EPRT |2|::1|25|\r\n"]
  ) {
    const [e] = everySplit(commands(), line) as { kind: string; reply: string; message: string }[];
    assert.equal(e.kind, "refuse", line);
    assert.match(e.reply, /^504 .*\r\n$/);
    assert.match(e.message, /bounce/);
  }
});

Deno.test("FtpCommandRewriter answers malformed PORT/EPRT with 501 and unknown families with 522", () => {
  const cases: [string, RegExp][] = [
    ["PORT 127,0,0,1,4\r\n", /^501 /],
    ["PORT 127,0,0,1,0,0\r\n", /^501 /],
    ["PORT 127,0,0,256,4,1\r\n", /^501 /],
    ["PORT\r\n", /^501 /],
    ["EPRT |1|127.0.0.1|70000|\r\n", /^501 /],
    ["EPRT |1|::1|21|\r\n", /^501 /],
    ["EPRT 1|127.0.0.1|21\r\n", /^501 /],
    ["EPRT |3|x|21|\r\n", /^522 /],
    ["AUTH TLS\r\n", /^534 /],
    ["auth ssl\n", /^534 .*\n$/],
    ["LPRT 4,4,127,0,0,1,2,4,1\r\n", /^502 /],
    ["LPSV\r\n", /^502 /],
  ];
  for (const [line, code] of cases) {
    const events = everySplit(commands(), line) as { kind: string; reply: string }[];
    assert.equal(events.length, 1, line);
    assert.equal(events[0].kind, "refuse", line);
    assert.match(events[0].reply, code, line);
  }
});

Deno.test("FtpCommandRewriter passes Telnet-prefixed ABOR and other commands unchanged", () => {
  const text = "\xff\xf4\xff\xf2ABOR\r\nPASV\r\nEPSV ALL\r\nSTOR a b\r\n\r\nNOOP";
  const events = everySplit(commands(), text);
  // The unterminated "NOOP" at EOF passes too, after a warning.
  assert.deepEqual(events, [
    { kind: "pass", text: text.slice(0, -4) },
    { kind: "warn" },
    { kind: "pass", text: "NOOP" },
  ]);
});

Deno.test("formatActiveCommand() writes PORT and EPRT for IPv4 and IPv6", () => {
  assert.equal(latin1(formatActiveCommand("PORT", "127.0.0.1", 4021)), "PORT 127,0,0,1,15,181\r\n");
  assert.equal(
    latin1(formatActiveCommand("EPRT", "127.0.0.1", 4021, "\n")),
    "EPRT |1|127.0.0.1|4021|\n",
  );
  assert.equal(latin1(formatActiveCommand("EPRT", "::1", 80)), "EPRT |2|::1|80|\r\n");
});

/** Deterministic pseudo-random bytes biased towards FTP-looking text. */
function fuzzInput(seed: number, length: number): Uint8Array {
  const alphabet = bytes("0123456789227229 -,()|\r\n\r\nPORTEPRTAUTH.:abc\xff\xf4");
  let x = seed;
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = (x >>> 24) % 4 === 0 ? (x >>> 8) & 0xff : alphabet[(x >>> 16) % alphabet.length];
  }
  return out;
}

Deno.test("both rewriters keep random input byte for byte, in random pieces", () => {
  for (let seed = 1; seed <= 200; seed++) {
    const input = fuzzInput(seed, 50 + seed * 13);
    for (const make of [replies, commands()] as (() => Machine)[]) {
      const m = make();
      const out: number[] = [];
      const take = (events: Event[]) => {
        for (const e of events) {
          if (e.kind === "pass") out.push(...e.bytes);
          else if (e.kind === "passive" || e.kind === "extended-passive") out.push(...e.reply);
          else if (e.kind === "active" || e.kind === "refuse") out.push(...e.line);
        }
      };
      for (
        let off = 0, step = 1;
        off < input.length;
        off += step, step = (step * 7 + seed) % 97 + 1
      ) {
        take(m.feed(input.subarray(off, off + step)));
      }
      take(m.end());
      assert.deepEqual(new Uint8Array(out), input, `seed ${seed}`);
    }
  }
});
