import assert from "node:assert/strict";
import { parseBrokerConfig } from "../config/tectia/load.ts";
import { isProfileCandidate, profileLayer } from "./target.ts";

const env = (name: string) => ({ HOME: "/home/ann", USER: "ann" })[name];

Deno.test("isProfileCandidate(): bare words only", () => {
  for (const t of ["db", "Database", "my profile", "db.internal"]) {
    assert.ok(isProfileCandidate(t), t);
  }
  for (const t of ["bob@db", "db#2222", "ssh://db", ""]) assert.ok(!isProfileCandidate(t), t);
});

Deno.test("profileLayer(): host, settings, tunnels and the gateway chain of a profile", async () => {
  const config = parseBrokerConfig(
    `<secsh-broker><profiles>
       <profile id="gw" host="bastion" user="jump" />
       <profile id="db" host="db.internal" port="2200" user="pg" gateway-profile="gw">
         <macs><mac name="hmac-sha2-256" /></macs>
         <authentication-methods><auth-password /><auth-publickey /></authentication-methods>
         <keepalive-interval time="9" />
         <user-identities><identity file="/k/db" /></user-identities>
         <tunnels>
           <local-tunnel listen-port="5432" dst-host="localhost" dst-port="5432" />
           <remote-tunnel listen-port="8080" dst-host="localhost" dst-port="3000" />
         </tunnels>
       </profile>
     </profiles></secsh-broker>`,
    "/etc/c.xml",
    env,
  );
  const layer = await profileLayer(config, config.profiles[1], env);
  assert.equal(layer.host, "db.internal");
  assert.equal(layer.port, 2200);
  assert.equal(layer.user, "pg");
  assert.deepEqual(layer.identityFiles, ["/k/db"]);
  assert.equal(layer.serverAliveInterval, 9);
  assert.deepEqual(layer.macs, ["hmac-sha2-256"]);
  assert.deepEqual(layer.authMethods, ["password", "publickey"]);
  assert.deepEqual(layer.localForwards, [
    { protocol: "tcp", listenPort: 5432, dstHost: "localhost", dstPort: 5432 },
  ]);
  assert.deepEqual(layer.remoteForwards, [
    { protocol: "tcp", listenPort: 8080, dstHost: "localhost", dstPort: 3000 },
  ]);
  assert.deepEqual(layer.gateways?.map((g) => [g.host, g.port, g.user]), [["bastion", 22, "jump"]]);
});
