import assert from "node:assert/strict";
import { proxyPac } from "./pac.ts";
import { matchRoute, parseRoute, type Route } from "./routes.ts";

type Find = (url: string, host: string) => string;

function load(pac: string): Find {
  return new Function(`${pac}\nreturn FindProxyForURL;`)() as Find;
}

const ROUTES = [
  "direct:*.lan",
  "block:*.ads.example",
  "direct:10.0.0.0/8",
  "block:*:25",
  "direct:intranet:8000-8999",
  "tunnel:db.corp",
  "direct:192.168.?.*",
  "block:[fd00::]/8",
].map(parseRoute);

const URLS: [string, string, number][] = [
  ["http://printer.lan/", "printer.lan", 80],
  ["https://PRINTER.LAN/", "PRINTER.LAN", 443],
  ["http://x.ads.example:8080/", "x.ads.example", 8080],
  ["http://10.1.2.3/", "10.1.2.3", 80],
  ["http://11.1.2.3/", "11.1.2.3", 80],
  ["http://mail.example:25/", "mail.example", 25],
  ["http://intranet:8080/", "intranet", 8080],
  ["http://intranet:9000/", "intranet", 9000],
  ["https://db.corp/", "db.corp", 443],
  ["http://192.168.1.20/", "192.168.1.20", 80],
  ["http://192.168.10.20/", "192.168.10.20", 80],
  ["http://example.com/", "example.com", 80],
  ["ftp://files.lan/", "files.lan", 21],
  ["wss://chat.example/", "chat.example", 443],
  ["http://user:pw@host.lan:81/x", "host.lan", 81],
];

const expected = (routes: Route[], unmatched: "tunnel" | "block", host: string, port: number) => {
  const r = matchRoute(routes, host, port);
  return (r?.action ?? unmatched) === "direct" ? "DIRECT" : "PROXY 127.0.0.1:1080";
};

Deno.test("proxyPac() decides as matchRoute() does, for every route kind", () => {
  for (const unmatched of ["tunnel", "block"] as const) {
    const find = load(proxyPac(ROUTES, unmatched, "127.0.0.1:1080"));
    for (const [url, host, port] of URLS) {
      assert.equal(
        find(url, host),
        expected(ROUTES, unmatched, host, port),
        `${url} (${unmatched})`,
      );
    }
  }
});

Deno.test("proxyPac(): filter-engine rules (regular expressions, labels) and no routes at all", () => {
  const rule: Route = {
    action: "direct",
    text: "rule 1",
    label: "filter-engine rule 1\nwith a newline",
    host: { name: /^(?:.*\.corp)$/i, address: /^(?:10\..*)$/ },
  };
  const pac = proxyPac([rule], "block", "[::1]:3128");
  const find = load(pac);
  assert.equal(find("http://a.corp/", "a.corp"), "DIRECT");
  assert.equal(find("http://10.0.0.1/", "10.0.0.1"), "DIRECT");
  assert.equal(find("http://11.0.0.1/", "11.0.0.1"), "PROXY [::1]:3128");
  assert.equal(find("http://a.corp.x/", "a.corp.x"), "PROXY [::1]:3128");
  for (const host of ["a.corp", "10.0.0.1", "11.0.0.1", "a.corp.x"]) {
    assert.equal(
      matchRoute([rule], host, 80)?.action ?? "block",
      find(`http://${host}/`, host) === "DIRECT" ? "direct" : "block",
      host,
    );
  }
  assert.ok(!pac.includes("\nwith a newline"), "a label broke out of its comment");
  assert.equal(load(proxyPac([], "tunnel", "h:1"))("https://x/", "x"), "PROXY h:1");
});
