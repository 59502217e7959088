import assert from "node:assert/strict";
import { matchRoute, parseRoute, type Route } from "./routes.ts";

const rules = (...texts: string[]): Route[] => texts.map(parseRoute);
const action = (routes: Route[], host: string, port: number) =>
  matchRoute(routes, host, port)?.action ?? "tunnel (no rule)";

Deno.test("parseRoute(): ACTION:PATTERN[:PORTS], IPv6 in brackets", () => {
  assert.deepEqual(parseRoute("direct:*.Corp.example.com").host, {
    wildcard: "*.corp.example.com",
  });
  assert.equal(parseRoute("BLOCK:*").action, "block");
  assert.deepEqual(parseRoute("tunnel:*:443").ports, { low: 443, high: 443 });
  assert.deepEqual(parseRoute("direct:10.0.0.0/8:1-1023").ports, { low: 1, high: 1023 });
  assert.ok("block" in parseRoute("block:[fd00::]/8").host);
  assert.deepEqual(parseRoute("block:[::1]:22"), {
    action: "block",
    text: "block:[::1]:22",
    host: { wildcard: "::1" },
    ports: { low: 22, high: 22 },
  });
  for (
    const [bad, why] of [
      ["*.example.com", /expected ACTION:PATTERN\[:PORTS\] with ACTION tunnel, direct or block/],
      ["relay:*", /expected ACTION:PATTERN/],
      ["direct:", /empty pattern/],
      ["direct:*:", /empty port range/],
      ["direct:*:0", /'0' is not a port or a range/],
      ["direct:*:90-80", /'90-80' is not a port/],
      ["direct:*:http", /'http' is not a port/],
      ["block:10.1.2.3/8", /'10\.1\.2\.3\/8': host bits are set after \/8/],
      ["block:[fd00::/8", /unclosed '\['/],
      ["block:[::1]x", /expected ':' after '\]'/],
    ] as const
  ) {
    assert.throws(() => parseRoute(bad), why, bad);
  }
});

Deno.test("matchRoute(): the first matching rule wins; no match is tunnel", () => {
  const r = rules(
    "block:ads.example.com",
    "direct:*.corp.example.com",
    "direct:10.0.0.0/8:1-1023",
    "block:[fd00::]/8",
    "tunnel:*.example.com",
    "direct:192.168.*",
    "block:*:25",
  );
  assert.equal(action(r, "ads.example.com", 443), "block");
  assert.equal(action(r, "ADS.Example.COM", 80), "block");
  assert.equal(action(r, "wiki.corp.example.com", 443), "direct");
  // "*.corp.example.com" does not match the bare domain.
  assert.equal(action(r, "corp.example.com", 443), "tunnel");
  assert.equal(action(r, "10.1.2.3", 22), "direct");
  assert.equal(action(r, "::ffff:10.1.2.3", 22), "direct");
  assert.equal(action(r, "10.1.2.3", 8080), "tunnel (no rule)");
  // A name is never resolved to match an address block.
  assert.equal(action(r, "ten.internal", 22), "tunnel (no rule)");
  assert.equal(action(r, "fd00::5", 80), "block");
  assert.equal(action(r, "[fd00::5]", 80), "block");
  assert.equal(action(r, "192.168.1.20", 80), "direct");
  assert.equal(action(r, "mail.elsewhere.org", 25), "block");
  assert.equal(action(r, "mail.elsewhere.org", 587), "tunnel (no rule)");
  assert.equal(action([], "anything", 1), "tunnel (no rule)");
});

Deno.test("parseRoute() and matchRoute() on random input: a route or one Error, never anything else", () => {
  const alphabet = "tunneldirectblock:*.?[]/-0123456789abcdef:f:1";
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  for (let i = 0; i < 20_000; i++) {
    let text = ["direct:", "block:", "tunnel:", ""][next() % 4];
    for (let n = next() % 24; n > 0; n--) text += alphabet[next() % alphabet.length];
    let route: Route;
    try {
      route = parseRoute(text);
    } catch (err) {
      assert.ok(err instanceof Error && err.message.length > 0, text);
      continue;
    }
    assert.equal(route.text, text);
    const hit = matchRoute(
      [route],
      ["a.b", "10.0.0.1", "::1", "[fe80::1]"][next() % 4],
      next() % 70000,
    );
    assert.ok(hit === undefined || hit === route);
  }
});
