import assert from "node:assert/strict";
import { parseProxyRules, selectProxyRule } from "./proxy_rules.ts";

Deno.test("parseProxyRules(): Tectia's rule forms", () => {
  const rules = parseProxyRules(
    "direct://10.0.0.0/8,*.lan;" +
      "socks4://me@fw.example:1081/192.168.1.1-192.168.1.50:22-2222 ; " +
      "http-connect://proxy.example:3128(db*.example:22);" +
      "socks5://[::1];direct",
  );
  assert.equal(rules.length, 5);
  assert.equal(rules[0].proxy, undefined);
  assert.equal(rules[0].conditions.length, 2);
  assert.deepEqual(rules[1].proxy, {
    scheme: "socks4",
    host: "fw.example",
    port: 1081,
    user: "me",
  });
  assert.deepEqual(rules[1].conditions[0].ports, { low: 22, high: 2222 });
  assert.deepEqual(rules[2].proxy, { scheme: "http", host: "proxy.example", port: 3128 });
  assert.deepEqual(rules[3].proxy, { scheme: "socks5", host: "::1", port: 1080 });
  assert.deepEqual(rules[4].conditions, []);
});

Deno.test("selectProxyRule(): the first match decides; names never match address conditions", () => {
  const rules = parseProxyRules(
    "direct://10.0.0.0/8,*.lan;socks4://fw:1080/192.168.1.1-192.168.1.50:22;" +
      "http-connect://proxy:3128/db*.example:22-23;socks5://last",
  );
  const pick = (host: string, port = 22) => selectProxyRule(rules, host, port)?.text;
  assert.equal(pick("10.1.2.3"), rules[0].text);
  assert.equal(pick("printer.LAN"), rules[0].text);
  assert.equal(pick("192.168.1.50"), rules[1].text);
  assert.equal(pick("192.168.1.50", 2222), rules[3].text, "port outside the range");
  assert.equal(pick("192.168.1.51"), rules[3].text);
  assert.equal(pick("db1.example", 23), rules[2].text);
  assert.equal(pick("ten.example"), rules[3].text, "a name is not resolved for 10.0.0.0/8");
  assert.equal(selectProxyRule(parseProxyRules("direct://10.0.0.0/8"), "h", 22), undefined);
});

Deno.test("parseProxyRules(): bad rules are errors naming them", () => {
  assert.throws(() => parseProxyRules("ftp://p:21"), /unknown rule type 'ftp'/);
  assert.throws(() => parseProxyRules("socks5://"), /missing or bad proxy server/);
  assert.throws(
    () => parseProxyRules("socks5://p:99999"),
    /missing or bad proxy server|out of range/,
  );
  assert.throws(() => parseProxyRules("direct://1.2.3.9-1.2.3.1"), /bad address range/);
  assert.throws(() => parseProxyRules("direct://host:0"), /not a port or a range/);
  assert.throws(() => parseProxyRules("direct://a b"), /bad host pattern/);
});
