import assert from "node:assert/strict";
import type { Decoded } from "./decoded.ts";
import {
  decodeSocks4,
  decodeSocks5Greeting,
  decodeSocks5Request,
  decodeUserPass,
  formatIpv6,
  parseIpv6,
  socks4Reply,
  socks5Method,
  socks5Reply,
  userPassReply,
} from "./socks.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const bytes = (...parts: (number | string | number[])[]) =>
  Uint8Array.from(parts.flatMap((p) => typeof p === "string" ? [...enc(p)] : p));

/** Every proper prefix needs more; the whole (plus trailing bytes) is done. */
function assertByteByByte<T>(decode: (b: Uint8Array) => Decoded<T>, msg: Uint8Array, value: T) {
  for (let n = 0; n < msg.length; n++) {
    assert.deepEqual(decode(msg.subarray(0, n)), { kind: "need-more" }, `prefix of ${n} bytes`);
  }
  assert.deepEqual(decode(msg), { kind: "done", value, used: msg.length });
  const more = bytes([...msg], "GET /");
  assert.deepEqual(decode(more), { kind: "done", value, used: msg.length });
}

/** Prefixes need more until the error shows, then every longer one fails the same way. */
function assertFailsAt<T>(
  decode: (b: Uint8Array) => Decoded<T>,
  msg: Uint8Array,
  at: number,
  reply: Uint8Array | undefined,
) {
  for (let n = 0; n <= msg.length; n++) {
    const r = decode(msg.subarray(0, n));
    if (n < at) assert.equal(r.kind, "need-more", `prefix of ${n} bytes`);
    else {
      assert.equal(r.kind, "error", `prefix of ${n} bytes`);
      assert.deepEqual((r as { reply?: Uint8Array }).reply, reply);
    }
  }
}

Deno.test("decodeSocks4() decodes CONNECT to an IPv4 address byte by byte", () => {
  const msg = bytes(4, 1, [0x1f, 0x90], [10, 0, 0, 5], "bob", 0);
  assertByteByByte(decodeSocks4, msg, {
    host: "10.0.0.5",
    port: 8080,
    addressType: "ipv4",
    userId: "bob",
  });
});

Deno.test("decodeSocks4() decodes a SOCKS4a host name byte by byte", () => {
  const msg = bytes(4, 1, [0, 80], [0, 0, 0, 1], 0, "db.internal", 0);
  assertByteByByte(decodeSocks4, msg, {
    host: "db.internal",
    port: 80,
    addressType: "domain",
    userId: "",
  });
});

Deno.test("decodeSocks4() rejects BIND, long fields and bad names with 0x5B", () => {
  const rejected = socks4Reply(0x5b);
  assertFailsAt(decodeSocks4, bytes(4, 2, [0, 80], [1, 2, 3, 4], 0), 2, rejected);
  const longUser = bytes(4, 1, [0, 80], [1, 2, 3, 4], "u".repeat(300), 0);
  assertFailsAt(decodeSocks4, longUser, 8 + 256, rejected);
  const longName = bytes(4, 1, [0, 80], [0, 0, 0, 9], 0, "h".repeat(300), 0);
  assertFailsAt(decodeSocks4, longName, 9 + 256, rejected);
  const spaced = bytes(4, 1, [0, 80], [0, 0, 0, 9], 0, "a b", 0);
  assertFailsAt(decodeSocks4, spaced, spaced.length, rejected);
  assertFailsAt(decodeSocks4, bytes(5, 1), 1, undefined);
});

Deno.test("decodeSocks5Greeting() returns the offered methods", () => {
  assertByteByByte(decodeSocks5Greeting, bytes(5, 2, 0, 2), Uint8Array.of(0, 2));
  assertFailsAt(decodeSocks5Greeting, bytes(5, 0), 2, socks5Method(0xff));
  assertFailsAt(decodeSocks5Greeting, bytes(4, 1, 0), 1, undefined);
});

Deno.test("decodeUserPass() decodes RFC 1929 credentials as bytes", () => {
  const msg = bytes(1, 3, "bob", 6, "s3cr:t");
  assertByteByByte(decodeUserPass, msg, { user: enc("bob"), password: enc("s3cr:t") });
  assertByteByByte(decodeUserPass, bytes(1, 0, 0), {
    user: new Uint8Array(0),
    password: new Uint8Array(0),
  });
  assertFailsAt(decodeUserPass, bytes(5, 1, 0), 1, userPassReply(false));
});

Deno.test("decodeSocks5Request() decodes IPv4, IPv6 and domain names byte by byte", () => {
  assertByteByByte(decodeSocks5Request, bytes(5, 1, 0, 1, [192, 168, 1, 2], [0, 22]), {
    host: "192.168.1.2",
    port: 22,
    addressType: "ipv4",
  });
  const v6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5];
  assertByteByByte(decodeSocks5Request, bytes(5, 1, 0, 4, v6, [0x01, 0xbb]), {
    host: "2001:db8::5",
    port: 443,
    addressType: "ipv6",
  });
  assertByteByByte(decodeSocks5Request, bytes(5, 1, 0, 3, 11, "example.org", [0, 80]), {
    host: "example.org",
    port: 80,
    addressType: "domain",
  });
});

Deno.test("decodeSocks5Request() answers BIND and UDP ASSOCIATE with 0x07", () => {
  const notSupported = socks5Reply(0x07);
  assertFailsAt(decodeSocks5Request, bytes(5, 2, 0, 1, [1, 2, 3, 4], [0, 80]), 2, notSupported);
  assertFailsAt(decodeSocks5Request, bytes(5, 3, 0, 1, [0, 0, 0, 0], [0, 0]), 2, notSupported);
  assertFailsAt(decodeSocks5Request, bytes(5, 9, 0, 1), 2, notSupported);
});

Deno.test("decodeSocks5Request() answers bad address types and names", () => {
  assertFailsAt(decodeSocks5Request, bytes(5, 1, 0, 9, 1, 2), 4, socks5Reply(0x08));
  assertFailsAt(decodeSocks5Request, bytes(5, 1, 0, 3, 0, [0, 80]), 7, socks5Reply(0x01));
  assertFailsAt(decodeSocks5Request, bytes(5, 1, 0, 3, 2, [0, 10], [0, 80]), 9, socks5Reply(0x01));
  assertFailsAt(decodeSocks5Request, bytes(4, 1, 0, 1), 1, socks5Reply(0x01));
});

Deno.test("socks5Reply() carries the bound address, IPv4 or IPv6", () => {
  assert.deepEqual(socks5Reply(0), bytes(5, 0, 0, 1, [0, 0, 0, 0], [0, 0]));
  assert.deepEqual(
    socks5Reply(0, { host: "127.0.0.1", port: 1080 }),
    bytes(5, 0, 0, 1, [127, 0, 0, 1], [4, 56]),
  );
  assert.deepEqual(
    socks5Reply(0, { host: "::ffff:10.1.2.3", port: 1 }),
    bytes(5, 0, 0, 1, [10, 1, 2, 3], [0, 1]),
  );
  assert.deepEqual(
    socks5Reply(0, { host: "::1", port: 1080 }),
    bytes(5, 0, 0, 4, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], [4, 56]),
  );
  assert.deepEqual(socks5Reply(5, { host: "not-an-ip", port: 9 }), socks5Reply(5));
});

Deno.test("socks4Reply() and socks5Method() encode fixed-size replies", () => {
  assert.deepEqual(
    socks4Reply(0x5a, { host: "127.0.0.1", port: 1080 }),
    bytes(0, 0x5a, [4, 56], [127, 0, 0, 1]),
  );
  assert.deepEqual(socks4Reply(0x5b, { host: "::1", port: 1 }), bytes(0, 0x5b, [0, 0, 0, 0, 0, 0]));
  assert.deepEqual(socks5Method(2), bytes(5, 2));
  assert.deepEqual(userPassReply(true), bytes(1, 0));
});

Deno.test("formatIpv6() and parseIpv6() round-trip RFC 5952 text", () => {
  for (
    const text of [
      "::",
      "::1",
      "1::",
      "2001:db8::5",
      "2001:db8:0:1:1:1:1:1",
      "2001:0:0:1::1",
      "fe80::1:2",
      "1:2:3:4:5:6:7:8",
    ]
  ) {
    const parsed = parseIpv6(text);
    assert.ok(parsed, text);
    assert.equal(formatIpv6(parsed), text);
  }
  assert.equal(formatIpv6(parseIpv6("2001:DB8:0:0:0:0:0:5")!), "2001:db8::5");
  assert.equal(formatIpv6(parseIpv6("fe80::1%eth0")!), "fe80::1");
  for (const bad of ["1::2::3", "1:2:3", "12345::", "g::", "1:2:3:4:5:6:7:8::"]) {
    assert.equal(parseIpv6(bad), undefined, bad);
  }
});
