/**
 * ProxyTunnel over raw sockets, with channels opened by a stand-in for SSH
 * (a plain TCP connection to a local echo server, or a refusal shaped like
 * ssh2's): handshakes, replies, failure mapping, auth, deadline, cleanup.
 * The same flows against OpenSSH with real clients are in tests/proxy_test.ts.
 */
import assert from "node:assert/strict";
import type { ForwardSpec } from "../../config/forward.ts";
import { setLogWriter, setupLogging } from "../../log.ts";
import { ActivityTracker } from "../activity.ts";
import { readAll, startEchoServer } from "../../../tests/_harness/local_servers.ts";
import { until } from "../../../tests/_harness/real_peers.ts";
import { echoOpener, exchange, refusingOpener, talk } from "./_test_peers.ts";
import { readExactly } from "../../../tests/_harness/local_servers.ts";
import { HANDSHAKE_TIMEOUT_MS, type ProxyOptions, ProxyTunnel } from "./tunnel.ts";
import { ProxyCredentials } from "./auth.ts";
import { parseRoute } from "../../config/routes.ts";
import { freePort } from "../../../tests/_harness/free_port.ts";
import { writeAll } from "../../net/io.ts";
import type { ChannelOpener } from "../types.ts";

const logLines: string[] = [];
setLogWriter((line) => logLines.push(line));
setupLogging("debug");

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const cat = (...parts: (number[] | string)[]) =>
  Uint8Array.from(parts.flatMap((p) => typeof p === "string" ? [...enc(p)] : p));

const SPEC: ForwardSpec = { protocol: "socks", listenAddress: "127.0.0.1", listenPort: 0 };

async function withProxy(
  open: ChannelOpener,
  fn: (port: number, activity: ActivityTracker) => Promise<void>,
  options: ProxyOptions = {},
  spec: ForwardSpec = SPEC,
): Promise<void> {
  const activity = new ActivityTracker();
  const tunnel = new ProxyTunnel(spec, open, activity, options);
  await tunnel.start();
  try {
    await fn(tunnel.addresses[0].port, activity);
  } finally {
    await tunnel.close();
  }
  assert.equal(activity.live, 0);
}

const portBytes = (p: number) => [p >> 8, p & 0xff];

Deno.test("ProxyTunnel passes a SOCKS5 domain name on unresolved, with early data", async () => {
  await using echo = startEchoServer();
  const calls: string[] = [];
  await withProxy(echoOpener(echo.port, calls), async (port) => {
    const request = cat([5, 1, 0], [5, 1, 0, 3, 12], "echo.invalid", [0, 7], "early ");
    const [reply, echoed] = await talk(port, request, 12, "late");
    assert.deepEqual(reply, Uint8Array.of(5, 0, 5, 0, 0, 1, 127, 0, 0, 1, ...portBytes(port)));
    assert.equal(echoed, "early late");
    assert.deepEqual(calls, ["echo.invalid:7"]);
  });
});

Deno.test("ProxyTunnel answers a SOCKS5 request sent with the greeting in one write; a client that waits gets the method first", async () => {
  await using echo = startEchoServer();
  const calls: string[] = [];
  const opened = Promise.withResolvers<void>();
  const opener = echoOpener(echo.port, calls);
  // The channel opens only when the test says so: until then a client can
  // read only what the proxy wrote before opening it.
  let asked = false;
  const slow: ChannelOpener = async (...args) => {
    asked = true;
    await opened.promise;
    return opener(...args);
  };
  await withProxy(slow, async (port) => {
    const reply = Uint8Array.of(5, 0, 5, 0, 0, 1, 127, 0, 0, 1, ...portBytes(port));
    // Greeting and request in one write: the method is held back and the
    // first read returns method and reply together.
    const eager = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await writeAll(eager, cat([5, 1, 0], [5, 1, 0, 1, 127, 0, 0, 1, 0, 7]));
      // By the time the channel is asked for, whatever the proxy writes
      // before opening it has been written.
      await until(() => asked, "the channel asked for");
      const first = new Uint8Array(64);
      const read = eager.read(first);
      setTimeout(() => opened.resolve(), 20);
      const n = await read;
      assert.deepEqual(first.subarray(0, n ?? 0), reply);
    } finally {
      eager.close();
    }
    // Greeting alone: the method comes at once (holding it would deadlock a
    // client that waits for it before sending its request).
    const patient = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await writeAll(patient, Uint8Array.of(5, 1, 0));
      assert.deepEqual(await readExactly(patient, 2), Uint8Array.of(5, 0));
      await writeAll(patient, Uint8Array.of(5, 1, 0, 1, 127, 0, 0, 1, 0, 7));
      assert.deepEqual(await readExactly(patient, 10), reply.subarray(2));
    } finally {
      patient.close();
    }
  });
});

Deno.test("ProxyTunnel serves SOCKS4, SOCKS4a and SOCKS5 IPv6 destinations", async () => {
  await using echo = startEchoServer();
  const calls: string[] = [];
  await withProxy(echoOpener(echo.port, calls), async (port) => {
    const granted = Uint8Array.of(0, 0x5a, ...portBytes(port), 127, 0, 0, 1);
    const v4 = await talk(port, cat([4, 1, 0, 80, 10, 1, 2, 3], "me", [0]), 8, "four");
    assert.deepEqual(v4, [granted, "four"]);
    const v4a = await talk(port, cat([4, 1, 1, 187, 0, 0, 0, 1, 0], "db.test", [0]), 8, "4a");
    assert.deepEqual(v4a, [granted, "4a"]);
    const v6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5];
    const [reply, six] = await talk(port, cat([5, 1, 0], [5, 1, 0, 4], v6, [0, 22]), 12, "6");
    assert.equal(reply[3], 0x00);
    assert.equal(six, "6");
    assert.deepEqual(calls, ["10.1.2.3:80", "db.test:443", "[2001:db8::5]:22"]);
  });
});

Deno.test("ProxyTunnel serves HTTP CONNECT and rewrites absolute-URI requests", async () => {
  await using echo = startEchoServer();
  const calls: string[] = [];
  await withProxy(echoOpener(echo.port, calls), async (port) => {
    const established = "HTTP/1.1 200 Connection established\r\n\r\n";
    const [reply, echoed] = await talk(
      port,
      enc("CONNECT db.test:5432 HTTP/1.1\r\nHost: db.test:5432\r\n\r\n"),
      established.length,
      "tls bytes",
    );
    assert.deepEqual([dec(reply), echoed], [established, "tls bytes"]);
    // The echo server sends back exactly what the origin would have received.
    const get = "GET http://web.test:8080/p?q HTTP/1.1\r\nHost: web.test:8080\r\n" +
      "Proxy-Connection: keep-alive\r\nContent-Length: 4\r\n\r\nbody";
    assert.equal(
      dec(await exchange(port, enc(get))),
      "GET /p?q HTTP/1.1\r\nHost: web.test:8080\r\nContent-Length: 4\r\n" +
        "Connection: close\r\n\r\nbody",
    );
    assert.deepEqual(calls, ["db.test:5432", "web.test:8080"]);
  });
});

Deno.test("ProxyTunnel maps channel-open failures to each protocol's reply", async () => {
  const socks5 = cat([5, 1, 0], [5, 1, 0, 3, 4], "h.test", [0, 9]);
  const cases: [number, string, number, string][] = [
    [2, "Connection refused", 0x05, "502 Bad Gateway"],
    [2, "No route to host", 0x04, "502 Bad Gateway"],
    [2, "Network is unreachable", 0x03, "502 Bad Gateway"],
    [1, "administratively prohibited", 0x02, "403 Forbidden"],
    [4, "resource shortage", 0x01, "502 Bad Gateway"],
  ];
  for (const [reason, text, rep, status] of cases) {
    await withProxy(refusingOpener(reason, text), async (port) => {
      const five = await exchange(port, socks5);
      assert.deepEqual(five, Uint8Array.of(5, 0, 5, rep, 0, 1, 0, 0, 0, 0, 0, 0), text);
      const four = await exchange(port, cat([4, 1, 0, 9, 1, 2, 3, 4, 0]));
      assert.deepEqual(four, Uint8Array.of(0, 0x5b, 0, 0, 0, 0, 0, 0));
      const http = dec(await exchange(port, enc("CONNECT h.test:9 HTTP/1.1\r\n\r\n")));
      assert.match(http, new RegExp(`^HTTP/1\\.1 ${status}\r\n`));
      assert.ok(http.endsWith(`Server refused h.test:9: ${text}\n`), http);
    });
  }
});

Deno.test("ProxyTunnel routes: direct from here, block with each protocol's refusal, the rest through SSH", async () => {
  await using echo = startEchoServer();
  const closed = freePort();
  const calls: string[] = [];
  const routes = [
    `block:*.ads.test`,
    `direct:127.0.0.1:${echo.port}`,
    `direct:localhost:${closed}`,
    "block:*:25",
  ].map(parseRoute);
  await withProxy(echoOpener(echo.port, calls), async (port) => {
    // Direct: the echo server answers without a channel being opened.
    const v5 = cat([5, 1, 0], [5, 1, 0, 1, 127, 0, 0, 1, ...portBytes(echo.port)]);
    const [reply, echoed] = await talk(port, v5, 12, "straight");
    assert.equal(reply[1], 0);
    assert.equal(echoed, "straight");
    const http = await talk(port, enc(`CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\n\r\n`), 39, "h");
    assert.equal(dec(http[0]), "HTTP/1.1 200 Connection established\r\n\r\n");
    assert.equal(http[1], "h");
    assert.deepEqual(calls, []);
    // A direct destination that refuses gets the refusal, as through SSH.
    const refused = await exchange(
      port,
      cat([5, 1, 0], [5, 1, 0, 3, 9], "localhost", portBytes(closed)),
    );
    assert.deepEqual(refused, Uint8Array.of(5, 0, 5, 5, 0, 1, 0, 0, 0, 0, 0, 0));
    // Blocked: "not allowed by ruleset", 0x5B, 403 naming the rule; nothing opened.
    const blocked5 = await exchange(port, cat([5, 1, 0], [5, 1, 0, 3, 10], "x.ads.test", [0, 80]));
    assert.deepEqual(blocked5, Uint8Array.of(5, 0, 5, 2, 0, 1, 0, 0, 0, 0, 0, 0));
    const blocked4 = await exchange(port, cat([4, 1, 0, 25, 10, 0, 0, 1, 0]));
    assert.deepEqual(blocked4, Uint8Array.of(0, 0x5b, 0, 0, 0, 0, 0, 0));
    const blockedHttp = dec(await exchange(port, enc("CONNECT mail.test:25 HTTP/1.1\r\n\r\n")));
    assert.match(blockedHttp, /^HTTP\/1\.1 403 Forbidden\r\n/);
    assert.ok(blockedHttp.includes("refused by --route block:*:25"), blockedHttp);
    assert.deepEqual(calls, []);
    // No rule: through SSH, as without routes.
    const [, tunneled] = await talk(
      port,
      cat([5, 1, 0], [5, 1, 0, 3, 6], "db.int", [0, 5]),
      12,
      "t",
    );
    assert.equal(tunneled, "t");
    assert.deepEqual(calls, ["db.int:5"]);
  }, { routes });
  assert.ok(
    logLines.some((l) =>
      /x\.ads\.test:80 \(SOCKS5, --route block:\*\.ads\.test\): refused/.test(l)
    ),
  );
});

Deno.test("ProxyTunnel answers unsupported and malformed requests, then closes", async () => {
  const calls: string[] = [];
  await withProxy(echoOpener(1, calls), async (port) => {
    const bind = await exchange(port, cat([5, 1, 0], [5, 2, 0, 1, 1, 2, 3, 4, 0, 80]));
    assert.deepEqual(bind, Uint8Array.of(5, 0, 5, 7, 0, 1, 0, 0, 0, 0, 0, 0));
    const udp = await exchange(port, cat([5, 1, 0], [5, 3, 0, 1, 0, 0, 0, 0, 0, 0]));
    assert.deepEqual(udp[3], 7);
    const socks4Bind = await exchange(port, cat([4, 2, 0, 80, 1, 2, 3, 4, 0]));
    assert.deepEqual(socks4Bind, Uint8Array.of(0, 0x5b, 0, 0, 0, 0, 0, 0));
    assert.deepEqual(await exchange(port, cat([5, 0])), Uint8Array.of(5, 0xff));
    assert.deepEqual(await exchange(port, cat([5, 1, 2])), Uint8Array.of(5, 0xff));
    const tls = dec(await exchange(port, Uint8Array.of(0x16, 3, 1, 0, 5)));
    assert.match(tls, /^HTTP\/1\.1 400 Bad Request\r\n/);
    const huge = enc(`GET http://h/ HTTP/1.1\r\nX: ${"a".repeat(20_000)}\r\n\r\n`);
    assert.match(dec(await exchange(port, huge)), /^HTTP\/1\.1 431 /);
    assert.deepEqual(calls, []);
  });
});

Deno.test("ProxyTunnel with --proxy-auth refuses unauthenticated clients", async () => {
  await using echo = startEchoServer();
  const secret = "pa55-w0rd";
  Deno.env.set("WARREN_PROXY_TEST_PW", secret);
  logLines.length = 0;
  try {
    const auth = { user: "bob", source: "env://WARREN_PROXY_TEST_PW" };
    await withProxy(echoOpener(echo.port, []), async (port) => {
      const req = [5, 1, 0, 1, 1, 2, 3, 4, 0, 80];
      const good = cat([5, 1, 2], [1, 3], "bob", [secret.length], secret, req);
      const [reply, echoed] = await talk(port, good, 14, "ok");
      assert.deepEqual([...reply.subarray(0, 5)], [5, 2, 1, 0, 5]);
      assert.equal(echoed, "ok");
      const bad = cat([5, 2, 0, 2], [1, 3], "bob", [5], "wrong", req);
      assert.deepEqual(await exchange(port, bad), Uint8Array.of(5, 2, 1, 1));
      assert.deepEqual(await exchange(port, cat([5, 1, 0])), Uint8Array.of(5, 0xff));
      const four = await exchange(port, cat([4, 1, 0, 80, 1, 2, 3, 4, 0]));
      assert.deepEqual(four, Uint8Array.of(0, 0x5b, 0, 0, 0, 0, 0, 0));
      const none = dec(await exchange(port, enc("CONNECT h:1 HTTP/1.1\r\n\r\n")));
      assert.match(none, /^HTTP\/1\.1 407 .*\r\nProxy-Authenticate: Basic realm="warren"\r\n/s);
      const wrong = `Proxy-Authorization: Basic ${btoa("bob:nope")}\r\n`;
      const refused = dec(await exchange(port, enc(`CONNECT h:1 HTTP/1.1\r\n${wrong}\r\n`)));
      assert.match(refused, /^HTTP\/1\.1 407 /);
      const right = `Proxy-Authorization: Basic ${btoa(`bob:${secret}`)}\r\n`;
      const ok = "HTTP/1.1 200 Connection established\r\n\r\n";
      const [head, body] = await talk(
        port,
        enc(`CONNECT h:1 HTTP/1.1\r\n${right}\r\n`),
        ok.length,
        "x",
      );
      assert.deepEqual([dec(head), body], [ok, "x"]);
    }, { credentials: await ProxyCredentials.load(auth) });
  } finally {
    Deno.env.delete("WARREN_PROXY_TEST_PW");
  }
  const log = logLines.join("");
  assert.match(log, /SOCKS5 authentication failed/);
  assert.ok(!log.includes(secret), "the password reached a log line");
  assert.ok(!log.includes(btoa(`bob:${secret}`)), "the credentials reached a log line");
});

Deno.test("ProxyTunnel drops idle and slow clients at the handshake deadline", async () => {
  const calls: string[] = [];
  logLines.length = 0;
  await withProxy(echoOpener(1, calls), async (port, activity) => {
    const idle = await Deno.connect({ hostname: "127.0.0.1", port });
    const slow = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      // Part of a request, then nothing: only the deadline can end this.
      await writeAll(slow, enc("CONNECT slow.test:1 HTTP/1.1\r\n"));
      assert.equal((await readAll(idle)).length, 0);
      assert.equal((await readAll(slow)).length, 0);
      assert.deepEqual(calls, []);
      assert.equal(activity.total, 2);
    } finally {
      idle.close();
      slow.close();
    }
  }, { handshakeTimeoutMs: 300 });
  const lines = logLines.filter((l) => l.includes("no complete request within 0.3 s"));
  assert.equal(lines.length, 2, logLines.join(""));
  // The client that sent nothing is a debug line; the slow one a warning.
  assert.deepEqual(lines.map((l) => /^warren: (\w+):/.exec(l)?.[1]).sort(), ["debug", "warning"]);
  assert.equal(HANDSHAKE_TIMEOUT_MS, 10_000, "the default deadline");
});

Deno.test("ProxyTunnel logs a failed request's warning once per kind and client, debug for silent clients", async () => {
  logLines.length = 0;
  await withProxy(refusingOpener(2, "Connection refused"), async (port) => {
    await exchange(port, cat([5, 1, 0], [5, 2, 0, 1, 1, 2, 3, 4, 0, 80])); // BIND
    await exchange(port, enc("GET /not-a-proxy-request HTTP/1.1\r\n\r\n")); // counted
    await exchange(port, cat([4, 1, 0, 80, 1, 2, 3, 4, 0])); // refused by the server
    await exchange(port, new Uint8Array(0)); // a port check: connects, sends nothing
  });
  const lines = logLines.filter((l) => l.includes("[tunnel] 127.0.0.1"));
  const warnings = lines.filter((l) => l.startsWith("warren: warning:"));
  assert.equal(warnings.length, 3, lines.join(""));
  assert.match(warnings[0], /proxy request failed: SOCKS5 command 2 is not supported/);
  assert.match(warnings[1], /-> 1\.2\.3\.4:80 \(SOCKS4\): Server refused 1\.2\.3\.4:80/);
  // At close, the held-back one is summed up.
  assert.match(warnings[2], /127\.0\.0\.1: \.\.\. and 1 more failed proxy requests like it/);
  assert.equal(lines.length, 4, lines.join(""));
  assert.match(lines.find((l) => !warnings.includes(l))!, /^warren: debug: .*client closed before/);
});

Deno.test("ProxyTunnel survives clients that vanish mid-handshake; close() ends live ones", async () => {
  await using echo = startEchoServer();
  const activity = new ActivityTracker();
  const tunnel = new ProxyTunnel(SPEC, echoOpener(echo.port, []), activity);
  await tunnel.start();
  const port = tunnel.addresses[0].port;
  let live: Deno.Conn | undefined;
  try {
    for (const partial of [[5], [5, 1, 0], [4, 1, 0], enc("GET http://")]) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await writeAll(conn, Uint8Array.from(partial));
      conn.close();
    }
    live = await Deno.connect({ hostname: "127.0.0.1", port });
    await writeAll(live, cat([5, 1, 0], [5, 1, 0, 1, 127, 0, 0, 1, 0, 7]));
    await readExactly(live, 12);
    while (activity.live > 1) await new Promise((r) => setTimeout(r, 10));
    assert.equal(activity.live, 1);
    await tunnel.close();
    assert.equal((await readAll(live)).length, 0);
    assert.equal(activity.live, 0);
    assert.equal(activity.total, 5);
  } finally {
    live?.close();
    await tunnel.close();
  }
});

Deno.test("ProxyTunnel closes a refused client that keeps its side open", async () => {
  await withProxy(refusingOpener(2, "Connection refused"), async (port, activity) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await writeAll(conn, cat([5, 1, 0], [5, 1, 0, 1, 1, 2, 3, 4, 0, 80]));
      const reply = await readAll(conn);
      assert.deepEqual(reply, Uint8Array.of(5, 0, 5, 5, 0, 1, 0, 0, 0, 0, 0, 0));
      // The client never closes: the proxy ends the connection on its own.
      await until(() => activity.live === 0, "the refused connection to be closed");
    } finally {
      conn.close();
    }
  });
});

Deno.test("ProxyTunnel binds loopback by default and warns when wider without auth", async () => {
  const open = echoOpener(1, []);
  logLines.length = 0;
  await withProxy(open, async () => {}, {}, { protocol: "socks", listenPort: 0 });
  assert.doesNotMatch(logLines.join(""), /warning/);
  const wide: ForwardSpec = { protocol: "socks", listenAddress: "0.0.0.0", listenPort: 0 };
  await withProxy(open, async () => {}, {}, wide);
  assert.match(logLines.join(""), /warning: .*accepts connections from other hosts without auth/);
  logLines.length = 0;
  Deno.env.set("WARREN_PROXY_TEST_PW", "x");
  try {
    const auth = { user: "u", source: "env://WARREN_PROXY_TEST_PW" };
    await withProxy(open, async () => {}, { credentials: await ProxyCredentials.load(auth) }, wide);
  } finally {
    Deno.env.delete("WARREN_PROXY_TEST_PW");
  }
  assert.doesNotMatch(logLines.join(""), /warning/);
});
