/**
 * `GET /proxy.pac` on a proxy port: the PAC file for its routes, naming the
 * address the client used; every other origin-form request is still 400.
 */
import assert from "node:assert/strict";
import type { ForwardSpec } from "../../config/forward.ts";
import { parseRoute } from "../../config/routes.ts";
import { ActivityTracker } from "../activity.ts";
import { exchange, refusingOpener } from "./_test_peers.ts";
import { ProxyTunnel } from "./tunnel.ts";
import { ProxyCredentials } from "./auth.ts";

const SPEC: ForwardSpec = { protocol: "socks", listenAddress: "127.0.0.1", listenPort: 0 };
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("ProxyTunnel serves /proxy.pac from its routes; other origin-form requests stay 400", async () => {
  const tunnel = new ProxyTunnel(SPEC, refusingOpener(2, "no"), new ActivityTracker(), {
    routes: [parseRoute("direct:*.lan"), parseRoute("block:*:25")],
    credentials: new ProxyCredentials("bob", "secret"),
  });
  await tunnel.start();
  try {
    const port = tunnel.addresses[0].port;
    const pac = dec(
      await exchange(port, enc("GET /proxy.pac HTTP/1.1\r\nHost: proxy.here:1080\r\n\r\n")),
    );
    assert.match(pac, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(pac, /\r\nContent-Type: application\/x-ns-proxy-autoconfig\r\n/);
    const body = pac.slice(pac.indexOf("\r\n\r\n") + 4);
    assert.equal(Number(/Content-Length: (\d+)/.exec(pac)![1]), enc(body).length);
    const find = new Function(`${body}\nreturn FindProxyForURL;`)() as (
      u: string,
      h: string,
    ) => string;
    assert.equal(find("http://nas.lan/", "nas.lan"), "DIRECT");
    assert.equal(find("http://example.com/", "example.com"), "PROXY proxy.here:1080");

    // No usable Host: the address the client connected to.
    const bare = dec(await exchange(port, enc("GET /proxy.pac?x=1 HTTP/1.0\r\nHost: a b\r\n\r\n")));
    assert.ok(bare.includes(`"PROXY 127.0.0.1:${port}"`), bare);
    const head = dec(await exchange(port, enc("HEAD /proxy.pac HTTP/1.1\r\n\r\n")));
    assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(head.endsWith("\r\n\r\n"), "HEAD got a body");

    for (const path of ["/", "/proxy.pac.bak", "/PROXY.PAC"]) {
      const r = dec(await exchange(port, enc(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`)));
      assert.match(r, /^HTTP\/1\.1 400 /, path);
    }
  } finally {
    await tunnel.close();
  }
});
