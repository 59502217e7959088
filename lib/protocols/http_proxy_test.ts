import assert from "node:assert/strict";
import {
  basicCredentials,
  decodeHttpRequest,
  headerValue,
  type HttpProxyRequest,
  httpResponse,
  MAX_HEAD,
  originRequest,
} from "./http_proxy.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
/** One byte per char, so "\xe9" is the single byte 0xE9. */
const latin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

function done(text: string): { value: HttpProxyRequest; used: number } {
  const r = decodeHttpRequest(latin1(text));
  assert.equal(r.kind, "done", JSON.stringify(r));
  return r as { kind: "done"; value: HttpProxyRequest; used: number };
}

function status(text: string | Uint8Array): string {
  const r = decodeHttpRequest(typeof text === "string" ? enc(text) : text);
  assert.equal(r.kind, "error", JSON.stringify(r.kind));
  const reply = dec((r as { reply?: Uint8Array }).reply!);
  return reply.slice(0, reply.indexOf("\r\n"));
}

Deno.test("decodeHttpRequest() decodes CONNECT byte by byte and keeps what follows", () => {
  const head = "CONNECT db.internal:443 HTTP/1.1\r\nHost: db.internal:443\r\n" +
    "Proxy-Authorization: Basic Ym9iOnB3\r\n\r\n";
  const msg = enc(head + "\x16\x03\x01");
  for (let n = 0; n < head.length; n++) {
    assert.deepEqual(decodeHttpRequest(msg.subarray(0, n)), { kind: "need-more" }, `${n} bytes`);
  }
  const r = decodeHttpRequest(msg);
  assert.deepEqual(r, {
    kind: "done",
    used: head.length,
    value: {
      method: "CONNECT",
      version: "1.1",
      host: "db.internal",
      port: 443,
      path: "",
      authority: "db.internal:443",
      headers: [["Host", "db.internal:443"], ["Proxy-Authorization", "Basic Ym9iOnB3"]],
    },
  });
});

Deno.test("decodeHttpRequest() decodes absolute URIs, IPv6 and bare LF line ends", () => {
  const a = done("GET http://example.org/a/b?c=d#frag HTTP/1.1\r\nAccept: */*\r\n\r\n").value;
  assert.deepEqual([a.host, a.port, a.path, a.authority], [
    "example.org",
    80,
    "/a/b?c=d",
    "example.org",
  ]);
  const b = done("POST HTTP://[::1]:8080?x HTTP/1.0\n\n").value;
  assert.deepEqual([b.host, b.port, b.path, b.authority], ["::1", 8080, "/?x", "[::1]:8080"]);
  const c = done("CONNECT [2001:db8::5]:22 HTTP/1.1\r\n\r\n");
  assert.deepEqual([c.value.host, c.value.port, c.used], ["2001:db8::5", 22, 37]);
  const d = done("HEAD http://h:1 HTTP/1.1\r\n\r\n").value;
  assert.deepEqual([d.path, d.authority], ["/", "h:1"]);
});

Deno.test("decodeHttpRequest() answers requests a proxy cannot serve with 400", () => {
  const bad = [
    "GET / HTTP/1.1\r\n\r\n",
    "GET https://example.org/ HTTP/1.1\r\n\r\n",
    "GET ftp://example.org/ HTTP/1.1\r\n\r\n",
    "GET http://user@example.org/ HTTP/1.1\r\n\r\n",
    "CONNECT example.org HTTP/1.1\r\n\r\n",
    "CONNECT example.org:0 HTTP/1.1\r\n\r\n",
    "CONNECT example.org:70000 HTTP/1.1\r\n\r\n",
    "GET http://example.org/ HTTP/2.0\r\n\r\n",
    "GET  http://example.org/ HTTP/1.1\r\n\r\n",
    "GET http://example.org/ HTTP/1.1\r\nno colon here\r\n\r\n",
    "GET http://example.org/ HTTP/1.1\r\n folded: x\r\n\r\n",
    "GET http://example.org/ HTTP/1.1\r\nBad Name: x\r\n\r\n",
  ];
  for (const text of bad) assert.equal(status(text), "HTTP/1.1 400 Bad Request", text);
});

Deno.test("decodeHttpRequest() rejects non-HTTP bytes at once, before any line end", () => {
  assert.equal(status(Uint8Array.of(0x16, 0x03, 0x01)), "HTTP/1.1 400 Bad Request");
  assert.equal(status("GET http://x/ XTTP"), "HTTP/1.1 400 Bad Request");
  assert.equal(status("GE\x00"), "HTTP/1.1 400 Bad Request");
  assert.equal(decodeHttpRequest(enc("GET http://x/ HTTP/1")).kind, "need-more");
  assert.equal(decodeHttpRequest(enc("GET http://x/ HTTP/1.1\r")).kind, "need-more");
});

Deno.test("decodeHttpRequest() bounds the head at 16 KiB with 431", () => {
  const head = "GET http://h/ HTTP/1.1\r\n" + "X-Filler: 0123456789abcdef\r\n".repeat(600);
  const msg = enc(head);
  assert.ok(msg.length > MAX_HEAD);
  assert.equal(decodeHttpRequest(msg.subarray(0, MAX_HEAD - 1)).kind, "need-more");
  assert.equal(status(msg.subarray(0, MAX_HEAD)), "HTTP/1.1 431 Request Header Fields Too Large");
  assert.equal(status(enc(head + "\r\n")), "HTTP/1.1 431 Request Header Fields Too Large");
  // A head that fits exactly is fine.
  assert.equal(decodeHttpRequest(enc(head + "\r\n"), msg.length + 2).kind, "done");
});

Deno.test("originRequest() rewrites to origin-form and drops hop-by-hop headers", () => {
  const { value } = done(
    "GET http://example.org:8080/x?y HTTP/1.1\r\n" +
      "Host: wrong.example\r\n" +
      "User-Agent: curl/8\r\n" +
      "Proxy-Authorization: Basic Ym9iOnB3\r\n" +
      "Proxy-Connection: Keep-Alive\r\n" +
      "Connection: keep-alive, X-Private\r\n" +
      "X-Private: 1\r\n" +
      "Keep-Alive: timeout=5\r\n" +
      "Content-Length: 3\r\n" +
      "Accept: \xe9\r\n\r\n",
  );
  // Non-ASCII header bytes go through unchanged.
  assert.deepEqual(
    originRequest(value),
    latin1(
      "GET /x?y HTTP/1.1\r\nHost: example.org:8080\r\nUser-Agent: curl/8\r\n" +
        "Content-Length: 3\r\nAccept: \xe9\r\nConnection: close\r\n\r\n",
    ),
  );
});

Deno.test("basicCredentials() decodes Proxy-Authorization: Basic", () => {
  const creds = basicCredentials(`Basic ${btoa("bob:pa:ss")}`)!;
  assert.deepEqual(creds, { user: enc("bob"), password: enc("pa:ss") });
  assert.deepEqual(basicCredentials(`basic  ${btoa(":")}`), {
    user: new Uint8Array(0),
    password: new Uint8Array(0),
  });
  for (const bad of [undefined, "", "Bearer abc", "Basic !!!", "Basic Ym9i", "Basic a"]) {
    assert.equal(basicCredentials(bad), undefined, bad);
  }
});

Deno.test("headerValue() is case-insensitive and returns the first", () => {
  const { value } = done("GET http://h/ HTTP/1.1\r\nX-A: 1\r\nx-a: 2\r\n\r\n");
  assert.equal(headerValue(value, "X-a"), "1");
  assert.equal(headerValue(value, "X-B"), undefined);
});

Deno.test("httpResponse() writes a closed, complete response; 407 asks for Basic", () => {
  const text = dec(httpResponse(407));
  assert.match(text, /^HTTP\/1\.1 407 Proxy Authentication Required\r\n/);
  assert.match(text, /\r\nProxy-Authenticate: Basic realm="warren"\r\n/);
  assert.match(text, /\r\nConnection: close\r\n/);
  const bad = dec(httpResponse(502, undefined, "Server refused h:1: Connection refused"));
  const [head, body] = bad.split("\r\n\r\n");
  assert.match(head, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
  assert.match(head, new RegExp(`Content-Length: ${body.length}`));
  assert.equal(body, "Server refused h:1: Connection refused\n");
});
