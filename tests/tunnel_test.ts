/**
 * The tunnel engine against the in-process ssh2 server: bytes, half-close,
 * parallel connections, backpressure, refusals and connection faults.
 */
import assert from "node:assert/strict";
import { type ConnectOptions, connectSsh, type SshConnection } from "../lib/ssh/connection.ts";
import { LocalTunnel } from "../lib/tunnel/local.ts";
import { RemoteTunnel } from "../lib/tunnel/remote.ts";
import { RemoteProxyTunnel } from "../lib/tunnel/proxy/remote_tunnel.ts";
import { ActivityTracker } from "../lib/tunnel/activity.ts";
import { WarrenError } from "../lib/errors.ts";
import { setLogWriter, setupLogging } from "../lib/log.ts";
import { startTestServer, type TestServer } from "./_harness/ssh_server.ts";
import { sshOptions } from "./_harness/real_peers.ts";
import {
  assertSameBytes,
  readAll,
  readExactly,
  readThenSend,
  roundTrip,
  startEchoServer,
  startReplyAfterEofServer,
  startSpeakFirstServer,
  startStalledServer,
  testBytes,
} from "./_harness/local_servers.ts";
import { writeAll } from "../lib/net/io.ts";
import type { ForwardSpec } from "../lib/config/forward.ts";

const logLines: string[] = [];
setLogWriter((line) => logLines.push(line));
setupLogging("debug");

function options(server: TestServer, extra: Partial<ConnectOptions> = {}): ConnectOptions {
  return sshOptions(server, { connectTimeout: 5, ...extra });
}

function local(ssh: SshConnection, dstPort: number, activity = new ActivityTracker()): LocalTunnel {
  const spec: ForwardSpec = {
    protocol: "tcp",
    listenAddress: "127.0.0.1",
    listenPort: 0,
    dstHost: "127.0.0.1",
    dstPort,
  };
  return new LocalTunnel(spec, false, (a, b, c, d) => ssh.openDirect(a, b, c, d), activity);
}

Deno.test("a local tunnel carries 8 MiB both ways and keeps half-close", async () => {
  await using server = await startTestServer();
  await using echo = startEchoServer();
  await using ssh = await connectSsh(options(server));
  const tunnel = local(ssh, echo.port);
  await tunnel.start();
  try {
    const data = testBytes(8 * 1024 * 1024, 7);
    const back = await roundTrip(tunnel.addresses[0].port, data);
    assert.equal(back.length, data.length);
    assertSameBytes(back, data);
  } finally {
    await tunnel.close();
  }
});

Deno.test("-L: an upload that starts after the far side's EOF arrives whole", async () => {
  // The far side sends 16 MiB and EOF first; only then does the client send
  // its 16 MiB and EOF, to a far side that reads slower than the tunnel. So
  // part of the upload is still queued for SSH window when the local EOF
  // comes: CHANNEL_CLOSE must wait for it.
  const download = testBytes(16 * 1024 * 1024, 11);
  const upload = testBytes(16 * 1024 * 1024 + 5, 12);
  await using server = await startTestServer();
  await using origin = startSpeakFirstServer(download, { slowReader: true });
  await using ssh = await connectSsh(options(server));
  const tunnel = local(ssh, origin.port);
  await tunnel.start();
  try {
    const received = origin.received();
    const got = await readThenSend(tunnel.addresses[0].port, upload);
    assert.equal(got.length, download.length);
    assertSameBytes(got, download);
    const up = await received;
    assert.equal(up.length, upload.length);
    assertSameBytes(up, upload);
  } finally {
    await tunnel.close();
  }
});

Deno.test("-R: a reply that starts after the near side's EOF arrives whole", async () => {
  // The client at the server's port sends 16 MiB and EOF; the destination
  // here replies with 16 MiB only then, to a client that reads slower than
  // the tunnel, so warren reads its local EOF while the reply still waits
  // for window.
  const upload = testBytes(16 * 1024 * 1024, 13);
  const reply = testBytes(16 * 1024 * 1024 + 3, 14);
  await using server = await startTestServer();
  await using origin = startReplyAfterEofServer(reply);
  await using ssh = await connectSsh(options(server));
  const spec: ForwardSpec = {
    protocol: "tcp",
    listenPort: 0,
    dstHost: "127.0.0.1",
    dstPort: origin.port,
  };
  const tunnel = new RemoteTunnel(spec, ssh, new ActivityTracker());
  await tunnel.start();
  try {
    const back = await roundTrip(tunnel.boundPort!, upload, "127.0.0.1", { slowReader: true });
    assert.equal(back.length, reply.length);
    assertSameBytes(back, reply);
    const got = await origin.received();
    assert.equal(got.length, upload.length);
    assertSameBytes(got, upload);
  } finally {
    await tunnel.close();
  }
});

Deno.test("a local tunnel serves 20 parallel connections without mixing bytes", async () => {
  await using server = await startTestServer();
  await using echo = startEchoServer();
  await using ssh = await connectSsh(options(server));
  const activity = new ActivityTracker();
  const tunnel = local(ssh, echo.port, activity);
  await tunnel.start();
  try {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => {
        const data = testBytes(256 * 1024 + i, i + 1);
        return roundTrip(tunnel.addresses[0].port, data).then((back) =>
          assertSameBytes(back, data)
        );
      }),
    );
    assert.equal(results.length, 20);
    assert.equal(activity.total, 20);
  } finally {
    await tunnel.close();
  }
});

Deno.test("a refused channel closes that client only and logs the server's reason", async () => {
  await using server = await startTestServer({ refuseDirect: 2 });
  await using ssh = await connectSsh(options(server));
  const tunnel = local(ssh, 9);
  await tunnel.start();
  try {
    logLines.length = 0;
    for (let i = 0; i < 2; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: tunnel.addresses[0].port });
      assert.equal((await readAll(conn)).length, 0);
      conn.close();
    }
  } finally {
    await tunnel.close();
  }
  // The first refusal in full; the second, from the same client within 10 s, counted.
  const errors = logLines.filter((l) => l.includes("error:"));
  assert.equal(errors.length, 2, logLines.join(""));
  assert.match(errors[0], /-> 127\.0\.0\.1:9: Server refused 127\.0\.0\.1:9: /);
  assert.match(errors[1], /127\.0\.0\.1: \.\.\. and 1 more failed connections like it/);
});

Deno.test("a remote tunnel with port 0 gets the server's port and connects back here", async () => {
  await using server = await startTestServer();
  await using echo = startEchoServer();
  await using ssh = await connectSsh(options(server));
  const spec: ForwardSpec = {
    protocol: "tcp",
    listenPort: 0,
    dstHost: "localhost",
    dstPort: echo.port,
  };
  const tunnel = new RemoteTunnel(spec, ssh, new ActivityTracker());
  await tunnel.start();
  try {
    const port = tunnel.boundPort!;
    assert.ok(port > 0);
    const data = testBytes(1024 * 1024, 3);
    assert.deepEqual(await roundTrip(port, data), data);
    assert.equal(echo.accepted(), 1);
  } finally {
    await tunnel.close();
  }
});

Deno.test("-R 0: opens that name port 0 (as asyncssh sends them) reach the one port-0 forward", async () => {
  await using server = await startTestServer({ openWithRequestedPort: true });
  await using echo = startEchoServer();
  await using ssh = await connectSsh(options(server));
  const spec: ForwardSpec = {
    protocol: "tcp",
    listenPort: 0,
    dstHost: "127.0.0.1",
    dstPort: echo.port,
  };
  const tunnel = new RemoteTunnel(spec, ssh, new ActivityTracker());
  await tunnel.start();
  try {
    const data = testBytes(256 * 1024, 5);
    assert.deepEqual(await roundTrip(tunnel.boundPort!, data), data);
    assert.equal(echo.accepted(), 1);
  } finally {
    await tunnel.close();
  }
});

Deno.test("-R 0 twice on one address: an open naming port 0 is refused with a line saying why", async () => {
  await using server = await startTestServer({ openWithRequestedPort: true });
  await using echo = startEchoServer();
  await using ssh = await connectSsh(options(server));
  const spec: ForwardSpec = {
    protocol: "tcp",
    listenPort: 0,
    dstHost: "127.0.0.1",
    dstPort: echo.port,
  };
  const first = new RemoteTunnel(spec, ssh, new ActivityTracker());
  const second = new RemoteTunnel(spec, ssh, new ActivityTracker());
  await first.start();
  await second.start();
  const before = logLines.length;
  try {
    const back = await roundTrip(first.boundPort!, new Uint8Array(10));
    assert.equal(back.length, 0);
    assert.equal(echo.accepted(), 0);
    const said = logLines.slice(before).join("");
    assert.match(
      said,
      /Refused a connection the server forwarded for localhost:0: 2 forwards asked for port 0/,
    );
  } finally {
    await first.close();
    await second.close();
  }
});

Deno.test("a refused remote forward is a bind error naming address and port", async () => {
  await using server = await startTestServer({ refuseForward: true });
  await using ssh = await connectSsh(options(server));
  const spec: ForwardSpec = { protocol: "tcp", listenPort: 4321, dstHost: "localhost", dstPort: 1 };
  const tunnel = new RemoteTunnel(spec, ssh, new ActivityTracker());
  await assert.rejects(tunnel.start(), (err: unknown) => {
    assert.ok(err instanceof WarrenError);
    assert.equal(err.kind, "bind");
    assert.match(err.message, /Server refused to listen on localhost:4321/);
    return true;
  });
  await tunnel.close();
});

Deno.test("a local tunnel on a port in use fails with a bind error", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const spec: ForwardSpec = {
    protocol: "tcp",
    listenAddress: "127.0.0.1",
    listenPort: taken.addr.port,
    dstHost: "x",
    dstPort: 1,
  };
  const tunnel = new LocalTunnel(
    spec,
    false,
    () => Promise.reject(new Error("unused")),
    new ActivityTracker(),
  );
  await assert.rejects(tunnel.start(), /Cannot listen on 127\.0\.0\.1:\d+: address already in use/);
  await tunnel.close();
});

Deno.test("backpressure: a receiver that does not read stalls the sender", async () => {
  await using server = await startTestServer();
  const stalled = startStalledServer();
  await using ssh = await connectSsh(options(server));
  const tunnel = local(ssh, stalled.port);
  await tunnel.start();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: tunnel.addresses[0].port });
  try {
    // Offer 256 MiB; count what gets accepted before writes stall for 1 s.
    const chunk = new Uint8Array(256 * 1024);
    let accepted = 0;
    let stalledFor = 0;
    while (accepted < 256 * 1024 * 1024 && stalledFor < 1) {
      const write = writeAll(conn, chunk).then(() => true);
      const timeout = new Promise<boolean>((r) => setTimeout(() => r(false), 1000));
      // deno-lint-ignore no-await-in-loop
      if (await Promise.race([write, timeout])) accepted += chunk.length;
      else {
        stalledFor++;
        stalled.release();
        await write; // resumes once the receiver drains
      }
    }
    // SSH window (2 MiB) + socket buffers on four sockets; far below 256 MiB.
    assert.equal(stalledFor, 1, "the sender never stalled");
    assert.ok(accepted < 48 * 1024 * 1024, `accepted ${accepted} bytes before stalling`);
  } finally {
    conn.close();
    await tunnel.close();
    await stalled.close();
  }
});

Deno.test("password authentication from -P env:// works when no key is accepted", async () => {
  await using server = await startTestServer({ password: "s3cret", acceptKey: false });
  Deno.env.set("WARREN_TEST_PW", "s3cret");
  try {
    await using _ssh = await connectSsh(
      options(server, { passwordSource: "env://WARREN_TEST_PW" }),
    );
    assert.deepEqual(server.authAttempts, ["none", "keyboard-interactive"]);
    assert.ok(server.readyCount() === 1);
    assert.ok(!logLines.some((l) => l.includes("s3cret")), "the password reached a log line");
  } finally {
    Deno.env.delete("WARREN_TEST_PW");
  }
});

Deno.test("authentication methods are tried in the order asked for, and only those", async () => {
  await using server = await startTestServer({ password: "s3cret" });
  Deno.env.set("WARREN_TEST_PW", "s3cret");
  try {
    const pw = { passwordSource: "env://WARREN_TEST_PW" };
    // OpenSSH's order: the key first (asked about, then signed), and it is accepted.
    await (await connectSsh(options(server, pw))).close();
    assert.deepEqual(server.authAttempts, ["none", "publickey", "publickey"]);
    // Passwords first: the key is never offered.
    server.authAttempts.length = 0;
    await (await connectSsh(options(server, { ...pw, authMethods: ["password", "publickey"] })))
      .close();
    assert.deepEqual(server.authAttempts, ["none", "password"]);
    // Only keyboard-interactive.
    server.authAttempts.length = 0;
    await (await connectSsh(options(server, { ...pw, authMethods: ["keyboard-interactive"] })))
      .close();
    assert.deepEqual(server.authAttempts, ["none", "keyboard-interactive"]);
  } finally {
    Deno.env.delete("WARREN_TEST_PW");
  }
  // Only passwords, and there is no password to give: nothing else is tried.
  server.authAttempts.length = 0;
  await assert.rejects(
    connectSsh(options(server, { authMethods: ["password"] })),
    /Cannot authenticate as tester to 127\.0\.0\.1:\d+/,
  );
  assert.deepEqual(server.authAttempts, ["none"]);
});

Deno.test("authentication failure names the methods tried and offered", async () => {
  await using server = await startTestServer({ acceptKey: false, password: "right" });
  Deno.env.set("WARREN_TEST_PW", "wrong");
  try {
    await assert.rejects(
      connectSsh(options(server, { passwordSource: "env://WARREN_TEST_PW" })),
      (err: unknown) => {
        assert.ok(err instanceof WarrenError);
        assert.equal(err.kind, "auth");
        assert.match(
          err.message,
          /^Cannot authenticate as tester to 127\.0\.0\.1:\d+: tried keyboard-interactive, password; the server accepts password, keyboard-interactive$/,
        );
        return true;
      },
    );
  } finally {
    Deno.env.delete("WARREN_TEST_PW");
  }
});

Deno.test("a changed host key is refused before any authentication", async () => {
  await using server = await startTestServer();
  const other = await startTestServer();
  const wrongKnownHosts = (await Deno.readTextFile(other.knownHosts)).replace(
    /\]:\d+/,
    `]:${server.port}`,
  );
  await other.close();
  await Deno.writeTextFile(server.knownHosts, wrongKnownHosts);
  await assert.rejects(connectSsh(options(server)), (err: unknown) => {
    assert.ok(err instanceof WarrenError);
    assert.equal(err.kind, "hostkey");
    assert.match(err.message, /^Host key for 127\.0\.0\.1:\d+ has changed/);
    return true;
  });
  assert.deepEqual(server.authAttempts, []);
});

Deno.test("an abrupt disconnect resolves `closed` with a clear error", async () => {
  await using server = await startTestServer();
  const ssh = await connectSsh(options(server));
  server.dropAll();
  const err = await ssh.closed;
  assert.ok(err instanceof WarrenError);
  assert.match(err.message, /^Connection to 127\.0\.0\.1:\d+ lost: /);
  await ssh.close();
});

Deno.test("keepalive detects a server that stopped answering", async () => {
  await using server = await startTestServer();
  const ssh = await connectSsh(options(server, { keepaliveInterval: 1, keepaliveCountMax: 1 }));
  server.freeze();
  const err = await ssh.closed;
  assert.ok(err instanceof WarrenError);
  assert.match(err.message, /lost: no reply to 1 keepalives \(ServerAliveInterval 1 s\)/);
  await ssh.close();
});

Deno.test("connecting to a closed port fails with 'connection refused'", async () => {
  const port = (() => {
    using l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    return l.addr.port;
  })();
  const server = { port, clientKey: "/nonexistent", knownHosts: "/nonexistent" } as TestServer;
  await assert.rejects(
    connectSsh(options(server)),
    /^WarrenError: Cannot connect to 127\.0\.0\.1:\d+: connection refused$/,
  );
});

Deno.test("cipher, MAC, key exchange and host key algorithm lists reach the negotiation", async () => {
  await using server = await startTestServer();
  await using ssh = await connectSsh(options(server, {
    ciphers: ["aes256-ctr"],
    macs: ["hmac-sha2-512"],
    kexs: ["ecdh-sha2-nistp256"],
    hostKeyAlgorithms: ["ssh-ed25519"],
  }));
  const n = (ssh.client as unknown as {
    _protocol: { _kex: { negotiated: Record<string, unknown> & { cs: Record<string, string> } } };
  })._protocol._kex.negotiated;
  assert.deepEqual(
    [n.kex, n.serverHostKey, n.cs.cipher, n.cs.mac],
    ["ecdh-sha2-nistp256", "ssh-ed25519", "aes256-ctr", "hmac-sha2-512"],
  );
});

Deno.test("a reverse proxy tunnel closes a client that does not finish its request in time, and serves the next", async () => {
  await using server = await startTestServer();
  await using echo = startEchoServer();
  await using ssh = await connectSsh(options(server));
  const spec: ForwardSpec = { protocol: "socks", listenPort: 0 };
  const tunnel = new RemoteProxyTunnel(spec, ssh, new ActivityTracker(), {
    handshakeTimeoutMs: 300,
  });
  await tunnel.start();
  try {
    const port = tunnel.boundPort!;
    // Half a SOCKS5 greeting, then nothing: closed at the deadline.
    const slow = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await writeAll(slow, Uint8Array.of(5));
      // A guard, not a measurement: without the deadline the read would wait forever.
      let guard: ReturnType<typeof setTimeout> | undefined;
      const closed = await Promise.race([
        slow.read(new Uint8Array(16)).catch(() => null),
        new Promise<string>((resolve) => guard = setTimeout(() => resolve("still open"), 10_000)),
      ]);
      clearTimeout(guard);
      assert.equal(closed, null, "the slow client was not closed at its deadline");
    } finally {
      slow.close();
    }
    assert.ok(
      logLines.some((l) => l.includes("no complete request within 0.3 s")),
      logLines.join(""),
    );
    // A client that sends its whole request in time is served.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      const p = echo.port;
      await writeAll(conn, Uint8Array.of(5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, p >> 8, p & 0xff));
      const reply = await readExactly(conn, 12);
      assert.deepEqual([...reply.subarray(0, 4)], [5, 0, 5, 0]);
      await writeAll(conn, Uint8Array.of(1, 2, 3));
      assert.deepEqual([...await readExactly(conn, 3)], [1, 2, 3]);
    } finally {
      conn.close();
    }
  } finally {
    await tunnel.close();
  }
});
