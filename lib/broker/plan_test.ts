import assert from "node:assert/strict";
import { parseBrokerConfig } from "../config/tectia/load.ts";
import { changedProfiles, placeOf, wantedListeners } from "./plan.ts";

const env = (name: string) => ({ HOME: "/home/ann", USER: "ann" })[name];
const parse = (profiles: string, statics = "") =>
  parseBrokerConfig(
    `<secsh-broker><profiles>${profiles}</profiles><static-tunnels>${statics}</static-tunnels></secsh-broker>`,
    "/c.xml",
    env,
  );

Deno.test("wantedListeners(): static tunnels and connect-on-startup profiles' tunnels, keyed", () => {
  const c = parse(
    `<profile id="a" host="a" connect-on-startup="yes"><tunnels>
       <remote-tunnel listen-port="8080" dst-host="localhost" dst-port="80" /></tunnels></profile>
     <profile id="b" host="b"><tunnels>
       <local-tunnel listen-port="9000" dst-host="x" dst-port="1" /></tunnels></profile>`,
    `<tunnel listen-port="1143" dst-host="imap" dst-port="143" profile="b" />
     <tunnel type="socks" listen-port="1080" profile="b" />`,
  );
  const w = wantedListeners(c);
  assert.deepEqual(w.map((x) => [x.origin, x.profile, x.direction, x.key]), [
    ["static", "b", "local", '["static","b","local","1143:imap:143"]'],
    ["static", "b", "local", '["static","b","local","socks/1080"]'],
    ["profile", "a", "remote", '["profile","a","remote","8080:localhost:80"]'],
  ]);
  assert.equal(placeOf(w[0].source), `/c.xml:${w[0].source!.line}:${w[0].source!.col}: `);
  assert.equal(placeOf(undefined), "");
});

Deno.test("changedProfiles(): connection settings, removal and gateways; not names or tunnels", () => {
  const before = parse(
    `<profile id="gw" host="bastion" />
     <profile id="db" host="db" gateway-profile="gw" name="Database" />
     <profile id="web" host="web" />`,
  );
  const renamed = parse(
    `<profile id="gw" host="bastion" />
     <profile id="db" host="db" gateway-profile="gw" name="DB" connect-on-startup="yes">
       <tunnels><local-tunnel listen-port="5432" dst-host="localhost" dst-port="5432" /></tunnels>
     </profile>
     <profile id="web" host="web" />`,
  );
  assert.deepEqual([...changedProfiles(before, renamed)], []);
  const moved = parse(
    `<profile id="gw" host="bastion2" />
     <profile id="db" host="db" gateway-profile="gw" />`,
  );
  assert.deepEqual([...changedProfiles(before, moved)].sort(), ["db", "gw", "web"]);
});

Deno.test("wantedListeners(): a socks-proxy tunnel carries the filter rules, and its key changes with them", () => {
  const withRules = (rules: string) =>
    parseBrokerConfig(
      `<secsh-broker><profiles><profile id="p" host="h" /></profiles>
       <static-tunnels><tunnel type="socks-proxy" listen-port="1080" /></static-tunnels>
       <filter-engine>${rules}</filter-engine></secsh-broker>`,
      "/c.xml",
      env,
    );
  const one = wantedListeners(withRules(`<rule action="TUNNEL" profile-id="p" />`));
  assert.equal(one.length, 1);
  assert.equal(one[0].profile, "");
  assert.deepEqual(one[0].routes?.map((r) => [r.action, r.profile]), [["tunnel", "p"]]);
  // The same rules on other lines: the same listener.
  const moved = wantedListeners(withRules(`\n\n<rule action="TUNNEL" profile-id="p" />`));
  assert.equal(moved[0].key, one[0].key);
  // Other rules: a new listener on reload.
  const other = wantedListeners(withRules(`<rule action="DIRECT" />`));
  assert.notEqual(other[0].key, one[0].key);
});
