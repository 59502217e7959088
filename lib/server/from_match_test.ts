import assert from "node:assert/strict";
import { fromAllows, parseFromPatterns } from "./from_match.ts";
import { normalizeAddress } from "../net/cidr.ts";

const allows = (list: string, ip: string) => fromAllows(parseFromPatterns(list), ip);

Deno.test("from=: wildcard patterns match the address text", () => {
  assert.ok(allows("192.168.1.*", "192.168.1.77"));
  assert.ok(!allows("192.168.1.*", "192.168.10.7"));
  assert.ok(allows("10.0.0.?", "10.0.0.5"));
  assert.ok(!allows("10.0.0.?", "10.0.0.15"));
  assert.ok(allows("*", "2001:db8::1"));
  assert.ok(allows("2001:DB8::1", "2001:db8::1"));
});

Deno.test("from=: CIDR blocks, IPv4 and IPv6", () => {
  assert.ok(allows("10.0.0.0/8", "10.255.1.2"));
  assert.ok(!allows("10.0.0.0/8", "11.0.0.1"));
  assert.ok(allows("169.254.4.0/30", "169.254.4.3"));
  assert.ok(!allows("169.254.4.0/30", "169.254.4.4"));
  assert.ok(allows("0.0.0.0/0", "8.8.8.8"));
  assert.ok(allows("2001:db8::/32", "2001:db8:ffff::9"));
  assert.ok(!allows("2001:db8::/32", "2001:db9::1"));
  assert.ok(!allows("10.0.0.0/8", "::1"), "an IPv6 client never matches an IPv4 block");
  assert.ok(allows("192.0.2.7/32", "192.0.2.7"));
});

Deno.test("from=: a matching negation refuses even when another pattern matches", () => {
  assert.ok(!allows("!10.1.0.0/16,10.0.0.0/8", "10.1.2.3"));
  assert.ok(allows("!10.1.0.0/16,10.0.0.0/8", "10.2.2.3"));
  assert.ok(!allows("10.0.0.0/8,!10.1.*", "10.1.0.1"));
  assert.ok(!allows("!10.1.2.3", "10.9.9.9"), "negations alone admit nobody");
});

Deno.test("from=: a client on a dual-stack socket is matched as IPv4", () => {
  assert.equal(normalizeAddress("::ffff:10.1.2.3"), "10.1.2.3");
  assert.ok(allows("10.1.2.*", "::ffff:10.1.2.3"));
  assert.ok(allows("10.0.0.0/8", "::FFFF:10.1.2.3"));
});

Deno.test("from=: host names are never looked up", () => {
  assert.ok(!allows("localhost", "127.0.0.1"));
  assert.ok(!allows("*.example.com", "192.0.2.1"));
});

Deno.test("parseFromPatterns() rejects bad blocks and empty patterns", () => {
  assert.throws(() => parseFromPatterns("10.1.0.0/8"), /host bits are set/);
  assert.throws(() => parseFromPatterns("2001:db8::1/32"), /host bits are set/);
  assert.throws(() => parseFromPatterns("10.0.0.0/33"), /address\/bits/);
  assert.throws(() => parseFromPatterns("host/8"), /address\/bits/);
  assert.throws(() => parseFromPatterns("10.0.0.0/8/8"), /address\/bits/);
  assert.throws(() => parseFromPatterns("a,,b"), /empty/);
  assert.throws(() => parseFromPatterns("!"), /empty/);
  assert.doesNotThrow(() => parseFromPatterns("::ffff:10.0.0.0/104"));
  assert.doesNotThrow(() => parseFromPatterns("fe80::/10"));
});
