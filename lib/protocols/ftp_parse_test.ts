import assert from "node:assert/strict";
import {
  canonicalIp,
  findEpsvPort,
  findPasvAddress,
  isIpv6,
  latin1,
  latin1Bytes,
  LineSplitter,
  MAX_LINE,
  parseEprtArgument,
  parsePortArgument,
} from "./ftp_parse.ts";

Deno.test("canonicalIp() gives one spelling per address", () => {
  assert.equal(canonicalIp("127.000.0.1"), "127.0.0.1");
  assert.equal(canonicalIp("::ffff:127.0.0.1"), "127.0.0.1");
  assert.equal(canonicalIp("::FFFF:7f00:1"), "127.0.0.1");
  assert.equal(canonicalIp("::1"), "0:0:0:0:0:0:0:1");
  assert.equal(canonicalIp("0:0:0:0:0:0:0:0001"), "0:0:0:0:0:0:0:1");
  assert.equal(canonicalIp("2001:db8::1.2.3.4"), "2001:db8:0:0:0:0:102:304");
  assert.equal(canonicalIp("fe80::1%eth0"), "fe80:0:0:0:0:0:0:1");
  assert.equal(canonicalIp("Host"), "host");
});

Deno.test("isIpv6() rejects what is not an IPv6 address", () => {
  for (const bad of ["1:2:3", "1::2::3", "::g", "1:2:3:4:5:6:7:8:9", "127.0.0.1", "::1.2.3.999"]) {
    assert.equal(isIpv6(bad), false, bad);
  }
  for (const good of ["::", "::1", "1:2:3:4:5:6:7:8", "::ffff:1.2.3.4", "1:2:3:4:5:6:1.2.3.4"]) {
    assert.equal(isIpv6(good), true, good);
  }
});

Deno.test("findPasvAddress() scans for six numbers, with or without parentheses", () => {
  assert.deepEqual(findPasvAddress("Entering Passive Mode (10,1,60,99,6,12)."), {
    host: "10.1.60.99",
    port: 1548,
    index: 23,
    length: 15,
  });
  assert.equal(findPasvAddress("=1, 2, 3, 4, 5, 6")?.port, 1286);
  assert.equal(findPasvAddress("(1,2,3,4,5)"), undefined);
  assert.equal(findPasvAddress("(1,2,3,4,5,256)"), undefined);
});

Deno.test("findEpsvPort() needs three equal delimiters and a port 1-65535", () => {
  assert.equal(findEpsvPort("Entering Extended Passive Mode (|||6446|)")?.port, 6446);
  assert.equal(findEpsvPort("(###21#)")?.port, 21);
  assert.equal(findEpsvPort("(|||0|)"), undefined);
  assert.equal(findEpsvPort("(|||70000|)"), undefined);
  assert.equal(findEpsvPort("(||!21|)"), undefined);
});

Deno.test("parsePortArgument() and parseEprtArgument() accept RFC forms only", () => {
  assert.deepEqual(parsePortArgument("127,0,0,1,4,1"), { host: "127.0.0.1", port: 1025 });
  assert.deepEqual(parsePortArgument(" 10, 0,0,1 ,0,1 "), { host: "10.0.0.1", port: 1 });
  assert.equal(parsePortArgument("127,0,0,1,4,1,0"), undefined);
  assert.deepEqual(parseEprtArgument("|2|::1|5282|"), {
    ok: true,
    family: 2,
    host: "::1",
    port: 5282,
  });
  assert.deepEqual(parseEprtArgument("!1!132.235.1.2!6275!"), {
    ok: true,
    family: 1,
    host: "132.235.1.2",
    port: 6275,
  });
  assert.deepEqual(parseEprtArgument("|9|x|1|"), { ok: false, why: "family" });
  assert.deepEqual(parseEprtArgument("|1|1.2.3.4|1"), { ok: false, why: "syntax" });
  assert.deepEqual(parseEprtArgument(" 1 1.2.3.4 1 "), { ok: false, why: "syntax" });
});

Deno.test("LineSplitter keeps line endings and bounds overlong lines", () => {
  const s = new LineSplitter();
  const pieces = s.push(latin1Bytes("a\r\nb\nc"));
  assert.deepEqual(pieces.map((p) => [latin1(p.bytes), p.whole]), [["a\r\n", true], ["b\n", true]]);
  const long = s.push(latin1Bytes("x".repeat(MAX_LINE + 1)));
  assert.equal(long.length, 1);
  assert.equal(long[0].whole, false);
  assert.equal(long[0].start, true);
  const tail = s.push(latin1Bytes("yy\r\nz\r\n"));
  assert.deepEqual(tail.map((p) => [latin1(p.bytes), p.whole, p.start]), [
    ["yy\r\n", false, false],
    ["z\r\n", true, true],
  ]);
  assert.deepEqual(s.flush(), []);
});
