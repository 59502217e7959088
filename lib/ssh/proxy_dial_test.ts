import assert from "node:assert/strict";
import { proxyHandshake } from "./proxy_dial.ts";
import { WarrenError } from "../errors.ts";

/** A one-shot fake proxy on loopback: reads the request, writes `answer` in one write. */
async function withProxy(
  answer: string,
  fn: (port: number) => Promise<void>,
): Promise<string> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let request = "";
  const served = (async () => {
    const conn = await listener.accept();
    const buf = new Uint8Array(4096);
    const n = await conn.read(buf);
    request = new TextDecoder("latin1").decode(buf.subarray(0, n ?? 0));
    await conn.write(new TextEncoder().encode(answer));
    conn.close();
  })();
  try {
    await fn((listener.addr as Deno.NetAddr).port);
  } finally {
    await served;
    listener.close();
  }
  return request;
}

Deno.test("proxyHandshake(): HTTP CONNECT keeps the server's bytes behind the proxy's answer", async () => {
  const request = await withProxy(
    "HTTP/1.1 200 Connection established\r\nX-A: b\r\n\r\nSSH-2.0-OpenSSH_9\r\n",
    async (port) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        const leftover = await proxyHandshake(
          conn,
          {
            proxy: { scheme: "http", host: "127.0.0.1", port, user: "al" },
            password: "pw",
          },
          "bastion",
          22,
        );
        assert.equal(new TextDecoder().decode(leftover), "SSH-2.0-OpenSSH_9\r\n");
      } finally {
        conn.close();
      }
    },
  );
  assert.equal(
    request,
    "CONNECT bastion:22 HTTP/1.1\r\nHost: bastion:22\r\n" +
      `Proxy-Authorization: Basic ${btoa("al:pw")}\r\n\r\n`,
  );
});

Deno.test("proxyHandshake(): a refusal is one line with the proxy's status", async () => {
  await withProxy("HTTP/1.0 407 Proxy Authentication Required\r\n\r\n", async (port) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await assert.rejects(
        proxyHandshake(
          conn,
          { proxy: { scheme: "http", host: "10.0.0.1", port: 3128 } },
          "bastion",
          22,
        ),
        (err: unknown) => {
          assert.ok(err instanceof WarrenError);
          assert.equal(
            err.message,
            "Proxy 10.0.0.1:3128 refused CONNECT bastion:22: 407 Proxy Authentication Required",
          );
          return true;
        },
      );
    } finally {
      conn.close();
    }
  });
});

Deno.test("proxyHandshake(): SOCKS4a sends the name for the proxy to resolve", async () => {
  const request = await withProxy("\x00\x5a\x00\x00\x00\x00\x00\x00SSH-", async (port) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      const leftover = await proxyHandshake(
        conn,
        {
          proxy: { scheme: "socks4a", host: "127.0.0.1", port, user: "me" },
        },
        "db.lan",
        2222,
      );
      assert.equal(new TextDecoder().decode(leftover), "SSH-");
    } finally {
      conn.close();
    }
  });
  assert.equal(request, "\x04\x01\x08\xae\x00\x00\x00\x01me\x00db.lan\x00");
});
