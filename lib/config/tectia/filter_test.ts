import assert from "node:assert/strict";
import { parseBrokerConfig } from "./load.ts";
import { filterRoutes } from "./filter.ts";
import { matchRoute } from "../routes.ts";

const env = (name: string) => ({ HOME: "/home/ann", USER: "ann" } as Record<string, string>)[name];

const CONFIG = `<secsh-broker>
  <profiles>
    <profile id="corp" host="bastion.corp"/>
    <profile id="lab" host="lab-gw"/>
  </profiles>
  <static-tunnels>
    <tunnel type="socks-proxy" listen-port="1080"/>
  </static-tunnels>
  <filter-engine>
    <rule host="ads\\..*" action="BLOCK"/>
    <rule host=".*\\.corp" action="TUNNEL" profile-id="corp"/>
    <rule ip-address="10\\.1\\..*" host="lab.*" ports="22-443" action="tunnel" profile-id="lab"/>
    <rule ip-address="192\\.168\\..*" action="DIRECT"/>
    <rule host="printer" ports="631" action="Direct"/>
  </filter-engine>
</secsh-broker>`;

Deno.test("<filter-engine> rules and a socks-proxy tunnel are read in file order", () => {
  const c = parseBrokerConfig(CONFIG, "/etc/w.xml", env);
  assert.deepEqual(c.warnings, []);
  assert.equal(c.staticTunnels[0].filtered, true);
  assert.equal(c.staticTunnels[0].type, "socks");
  assert.equal(c.staticTunnels[0].profile, "");
  assert.deepEqual(c.filterRules.map(({ source: _s, ...r }) => r), [
    { action: "block", host: "ads\\..*" },
    { action: "tunnel", host: ".*\\.corp", profileId: "corp" },
    {
      action: "tunnel",
      host: "lab.*",
      ipAddress: "10\\.1\\..*",
      ports: { low: 22, high: 443 },
      profileId: "lab",
    },
    { action: "direct", ipAddress: "192\\.168\\..*" },
    { action: "direct", host: "printer", ports: { low: 631, high: 631 } },
  ]);
});

Deno.test("filter routes: whole-text, case-insensitive; the address expression for addresses", () => {
  const routes = filterRoutes(parseBrokerConfig(CONFIG, "/etc/w.xml", env).filterRules);
  const decide = (host: string, port: number) => {
    const r = matchRoute(routes, host, port);
    return r ? `${r.action}${r.profile ? ` via ${r.profile}` : ""}` : "no match";
  };
  assert.equal(decide("ads.example.org", 443), "block");
  assert.equal(decide("mail.ads.example.org", 443), "no match", "whole text, not a substring");
  assert.equal(decide("WIKI.CORP", 80), "tunnel via corp");
  assert.equal(decide("corp", 80), "no match");
  // An address uses ip-address; a name uses host.
  assert.equal(decide("10.1.2.3", 22), "tunnel via lab");
  assert.equal(decide("lab-db", 443), "tunnel via lab");
  assert.equal(decide("10.1.2.3", 8080), "no match", "outside the ports");
  assert.equal(decide("192.168.7.7", 9000), "direct");
  // A name is never resolved to match an address expression.
  assert.equal(decide("nas.home", 9000), "no match");
  assert.equal(decide("printer", 631), "direct");
  assert.match(routes[0].label!, /^the <filter-engine> rule at \/etc\/w\.xml:10:5$/);
});
