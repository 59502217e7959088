import assert from "node:assert/strict";
import { parseRoute } from "../../config/routes.ts";
import { clientAddress, noProxyEntries, proxyEnvironment, shellExports } from "./env.ts";

Deno.test("proxyEnvironment(): ALL_PROXY, HTTP_PROXY, HTTPS_PROXY in both cases; no NO_PROXY without routes", () => {
  const env = proxyEnvironment("127.0.0.1:1080");
  assert.deepEqual(env, {
    ALL_PROXY: "socks5h://127.0.0.1:1080",
    all_proxy: "socks5h://127.0.0.1:1080",
    HTTP_PROXY: "http://127.0.0.1:1080",
    http_proxy: "http://127.0.0.1:1080",
    HTTPS_PROXY: "http://127.0.0.1:1080",
    https_proxy: "http://127.0.0.1:1080",
  });
});

Deno.test("noProxyEntries(): only direct rules before any other, in forms NO_PROXY means alike", () => {
  const routes = [
    "direct:10.0.0.0/8",
    "direct:*.lan",
    "direct:intranet", // a plain name: NO_PROXY would take its subdomains too
    "direct:*.corp:443", // ports: NO_PROXY has none
    "direct:[fd00::]/8",
    "direct:192.168.*", // not a domain suffix
    "tunnel:*.vpn",
    "direct:*.late", // shadowed by nothing here, but after a tunnel rule: left out
  ].map(parseRoute);
  assert.deepEqual(noProxyEntries(routes), ["10.0.0.0/8", ".lan", "fd00::/8"]);
  assert.deepEqual(noProxyEntries([parseRoute("direct:*")]), ["*"]);
  assert.deepEqual(noProxyEntries([parseRoute("block:*.ads"), parseRoute("direct:*")]), []);
  const env = proxyEnvironment("[::1]:3128", routes, "localhost");
  assert.equal(env.NO_PROXY, "localhost,10.0.0.0/8,.lan,fd00::/8");
  assert.equal(env.no_proxy, env.NO_PROXY);
  assert.equal(env.ALL_PROXY, "socks5h://[::1]:3128");
});

Deno.test("clientAddress() prefers 127.0.0.1 and turns a wildcard bind into it", () => {
  assert.equal(
    clientAddress([{ hostname: "::1", port: 5 }, { hostname: "127.0.0.1", port: 5 }]),
    "127.0.0.1:5",
  );
  assert.equal(clientAddress([{ hostname: "::1", port: 5 }]), "[::1]:5");
  assert.equal(clientAddress([{ hostname: "::", port: 6 }]), "127.0.0.1:6");
  assert.equal(clientAddress([{ hostname: "0.0.0.0", port: 7 }]), "127.0.0.1:7");
  assert.equal(clientAddress([{ hostname: "192.0.2.1", port: 8 }]), "192.0.2.1:8");
});

Deno.test("shellExports() quotes for a POSIX shell", () => {
  assert.equal(shellExports({ A: "x'y", B: "z" }), "export A='x'\\''y'\nexport B='z'");
});
