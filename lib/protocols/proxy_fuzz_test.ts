/**
 * Fuzzing the proxy decoders with a fixed seed (so a failure reproduces):
 * random bytes and mutated valid handshakes go through every decoder and
 * through the decoder chain a connection runs. No decoder may throw, every
 * result must be well formed, `done` must be stable under truncation to
 * `used`, and an `error` must stay an error whatever follows it.
 */
import assert from "node:assert/strict";
import type { Decoded } from "./decoded.ts";
import { decodeHttpRequest } from "./http_proxy.ts";
import {
  decodeSocks4,
  decodeSocks5Greeting,
  decodeSocks5Request,
  decodeUserPass,
} from "./socks.ts";

const SEED = 0x5eed_1928;
const CASES = 120_000;

/** mulberry32: small, fast, deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const enc = (s: string) => new TextEncoder().encode(s);
const cat = (...parts: (number[] | Uint8Array | string)[]) =>
  Uint8Array.from(parts.flatMap((p) => typeof p === "string" ? [...enc(p)] : [...p]));

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

const V6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const VALID: Uint8Array[] = [
  cat([4, 1, 0, 80, 10, 0, 0, 1], "user", [0]),
  cat([4, 1, 0, 80, 0, 0, 0, 7, 0], "example.org", [0]),
  cat([5, 1, 0], [5, 1, 0, 1, 127, 0, 0, 1, 0x1f, 0x90]),
  cat([5, 2, 0, 2], [1, 3], "bob", [6], "secret", [5, 1, 0, 3, 9], "localhost", [0, 80]),
  cat([5, 1, 2], [1, 1], "u", [1], "p", [5, 1, 0, 4], V6, [1, 187]),
  cat([5, 1, 0, 4], V6, [0, 22]),
  cat([1, 3], "bob", [6], "secret"),
  cat("CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n"),
  cat("GET http://[::1]:8080/a?b HTTP/1.1\r\nHost: x\r\nProxy-Connection: keep-alive\r\n\r\nbody"),
  cat("POST http://h/ HTTP/1.0\nContent-Length: 2\nProxy-Authorization: Basic Ym9iOnB3\n\nhi"),
];

type Decoder = (b: Uint8Array) => Decoded<unknown>;
const DECODERS: [string, Decoder][] = [
  ["socks4", decodeSocks4],
  ["greeting", decodeSocks5Greeting],
  ["userpass", decodeUserPass],
  ["request", decodeSocks5Request],
  ["http", (b) => decodeHttpRequest(b, 512)],
];

function mutate(rand: () => number, input: Uint8Array): Uint8Array {
  const bytes = [...input];
  const ops = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < ops; i++) {
    const at = Math.floor(rand() * (bytes.length + 1));
    const byte = rand() < 0.3
      ? [0, 1, 2, 3, 4, 5, 0xff, 0x0a, 0x3a][Math.floor(rand() * 9)]
      : Math.floor(rand() * 256);
    switch (Math.floor(rand() * 6)) {
      case 0:
        bytes[Math.min(at, bytes.length - 1)] = byte;
        break;
      case 1:
        bytes.splice(at, 0, byte);
        break;
      case 2:
        bytes.splice(at, 1 + Math.floor(rand() * 4));
        break;
      case 3:
        bytes.length = Math.min(bytes.length, at);
        break;
      case 4:
        bytes.splice(at, 0, ...bytes.slice(at, at + 1 + Math.floor(rand() * 40)));
        break;
      default:
        bytes[Math.min(at, bytes.length - 1)] ^= 1 << Math.floor(rand() * 8);
    }
  }
  return Uint8Array.from(bytes.filter((b) => b !== undefined));
}

function randomBytes(rand: () => number): Uint8Array {
  const out = new Uint8Array(Math.floor(rand() * 96));
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(rand() * 256);
  if (out.length > 0 && rand() < 0.6) out[0] = [4, 5, 1, 0x47, 0x43][Math.floor(rand() * 5)];
  return out;
}

function check(name: string, decode: Decoder, input: Uint8Array, tail: Uint8Array): void {
  const r = decode(input);
  const ok = (cond: boolean, what: string) => {
    if (!cond) assert.fail(`${what}: ${name} on [${input.join(",")}] gave ${JSON.stringify(r)}`);
  };
  switch (r.kind) {
    case "need-more":
      break;
    case "error":
      ok(r.message.length > 0, "error without a message");
      ok(r.reply === undefined || (r.reply instanceof Uint8Array && r.reply.length > 0), "reply");
      ok(decode(concat(input, tail)).kind === "error", "error must be final");
      break;
    case "done":
      ok(Number.isInteger(r.used) && r.used >= 1 && r.used <= input.length, "used");
      assert.deepEqual(decode(input.subarray(0, r.used)), r, `done must be stable: ${name}`);
      break;
    default:
      ok(false, "unknown result kind");
  }
}

/** The order a connection runs the decoders in, consuming `used` each time. */
function chain(input: Uint8Array): string {
  const steps: Decoder[] = input[0] === 4
    ? [decodeSocks4]
    : input[0] === 5
    ? [decodeSocks5Greeting, decodeUserPass, decodeSocks5Request]
    : [(b) => decodeHttpRequest(b)];
  let rest = input;
  for (const step of steps) {
    const r = step(rest);
    if (r.kind !== "done") return r.kind;
    rest = rest.subarray(r.used);
  }
  return "done";
}

Deno.test(`proxy decoders survive ${CASES} random and mutated handshakes`, () => {
  const rand = prng(SEED);
  const outcomes = new Map<string, number>();
  const started = performance.now();
  for (let i = 0; i < CASES; i++) {
    const input = rand() < 0.5
      ? mutate(rand, VALID[Math.floor(rand() * VALID.length)])
      : randomBytes(rand);
    const tail = randomBytes(rand);
    for (const [name, decode] of DECODERS) check(name, decode, input, tail);
    const outcome = chain(input);
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  }
  const ms = performance.now() - started;
  console.log(`${CASES} inputs in ${Math.round(ms)} ms: ${JSON.stringify([...outcomes])}`);
  // Every kind of outcome must show up, or the fuzzer is not reaching deep.
  for (const kind of ["need-more", "error", "done"]) {
    assert.ok((outcomes.get(kind) ?? 0) > 100, `${kind}: ${JSON.stringify([...outcomes])}`);
  }
});

Deno.test("decodeSocks5Request() round-trips random valid requests split anywhere", () => {
  const rand = prng(SEED + 1);
  for (let i = 0; i < 10_000; i++) {
    const port = Math.floor(rand() * 65536);
    const kind = Math.floor(rand() * 3);
    const addr = kind === 0
      ? [1, ...Array.from({ length: 4 }, () => Math.floor(rand() * 256))]
      : kind === 1
      ? [4, ...Array.from({ length: 16 }, () => Math.floor(rand() * 256))]
      : [
        3,
        ...(() => {
          const name = Array.from(
            { length: 1 + Math.floor(rand() * 60) },
            () => 0x21 + Math.floor(rand() * 94),
          );
          return [name.length, ...name];
        })(),
      ];
    const msg = Uint8Array.from([5, 1, 0, ...addr, port >> 8, port & 0xff]);
    const split = Math.floor(rand() * msg.length);
    assert.equal(decodeSocks5Request(msg.subarray(0, split)).kind, "need-more");
    const r = decodeSocks5Request(msg);
    assert.ok(r.kind === "done" && r.used === msg.length && r.value.port === port);
  }
});
