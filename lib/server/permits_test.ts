import assert from "node:assert/strict";
import {
  formatPermit,
  listenAllowed,
  openAllowed,
  parseListenPermit,
  parseOpenPermit,
} from "./permits.ts";

Deno.test("parseOpenPermit() reads host:port, [v6]:port and wildcards", () => {
  assert.deepEqual(parseOpenPermit("DB.internal:5432"), { host: "db.internal", port: 5432 });
  assert.deepEqual(parseOpenPermit("[2001:db8::5]:80"), { host: "2001:db8::5", port: 80 });
  assert.deepEqual(parseOpenPermit("localhost:*"), { host: "localhost", port: "*" });
  assert.deepEqual(parseOpenPermit("*:443"), { host: "*", port: 443 });
  for (
    const bad of [
      "db",
      ":80",
      "db:0",
      "db:65536",
      "db:x",
      "::1:80",
      "[::1]80",
      "[x]:80",
      "a*:1",
      "d b:1",
    ]
  ) {
    assert.throws(() => parseOpenPermit(bad), SyntaxError, bad);
  }
});

Deno.test("parseListenPermit() reads [host:]port, with 0 and * as ports", () => {
  assert.deepEqual(parseListenPermit("8080"), { host: "*", port: 8080 });
  assert.deepEqual(parseListenPermit("0"), { host: "*", port: 0 });
  assert.deepEqual(parseListenPermit("Localhost:*"), { host: "localhost", port: "*" });
  assert.deepEqual(parseListenPermit("[::1]:9000"), { host: "::1", port: 9000 });
  assert.deepEqual(parseListenPermit("127.0.0.*:9000"), { host: "127.0.0.*", port: 9000 });
  for (const bad of ["", ":80", "x:", "70000", "a:b:1"]) {
    assert.throws(() => parseListenPermit(bad), SyntaxError, bad);
  }
});

Deno.test("openAllowed() compares the destination as the client sent it", () => {
  const permits = [parseOpenPermit("localhost:80"), parseOpenPermit("[::1]:*")];
  assert.ok(openAllowed(undefined, "anything", 1), "no list: no restriction");
  assert.ok(openAllowed(permits, "LOCALHOST", 80));
  assert.ok(!openAllowed(permits, "127.0.0.1", 80), "no name lookup");
  assert.ok(!openAllowed(permits, "localhost", 81));
  assert.ok(openAllowed(permits, "::1", 22));
  assert.ok(openAllowed([parseOpenPermit("*:443")], "example.com", 443));
  assert.ok(!openAllowed([], "localhost", 80), "an empty list allows nothing");
});

Deno.test("listenAllowed(): host patterns, port 0 only when permitted", () => {
  assert.ok(listenAllowed(undefined, "", 0));
  assert.ok(listenAllowed([parseListenPermit("8080")], "localhost", 8080));
  assert.ok(listenAllowed([parseListenPermit("8080")], "", 8080));
  assert.ok(!listenAllowed([parseListenPermit("8080")], "localhost", 0));
  assert.ok(listenAllowed([parseListenPermit("0")], "localhost", 0));
  assert.ok(!listenAllowed([parseListenPermit("0")], "localhost", 8080));
  assert.ok(listenAllowed([parseListenPermit("*")], "localhost", 0));
  assert.ok(listenAllowed([parseListenPermit("localhost:*")], "LocalHost", 9));
  assert.ok(!listenAllowed([parseListenPermit("localhost:*")], "127.0.0.1", 9));
  assert.ok(listenAllowed([parseListenPermit("127.0.0.*:9")], "127.0.0.1", 9));
});

Deno.test("formatPermit() writes permits back as given", () => {
  assert.equal(formatPermit(parseOpenPermit("[::1]:80")), "[::1]:80");
  assert.equal(formatPermit(parseListenPermit("9")), "*:9");
  assert.equal(formatPermit(parseOpenPermit("db:*")), "db:*");
});
