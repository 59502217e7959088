import assert from "node:assert/strict";
import { parseCommandLine } from "../cli/args.ts";
import type { ProfileLayer } from "./client_config.ts";
import { parseBrokerConfig } from "../config/tectia/load.ts";
import type { ClientConfig } from "./client_config.ts";
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

Deno.test("parseCommandLine() with a profile layer: the command line wins, -L/-R add", () => {
  const layer: ProfileLayer = {
    host: "db.internal",
    port: 2200,
    user: "pg",
    identityFiles: ["/k/db"],
    hostKeyPolicy: "strict",
    knownHostsFiles: ["/kh"],
    serverAliveInterval: 9,
    connectTimeout: 4,
    localForwards: [{ protocol: "tcp", listenPort: 5432, dstHost: "localhost", dstPort: 5432 }],
    remoteForwards: [],
  };
  const run = (...argv: string[]) => {
    const r = parseCommandLine(argv, env, layer);
    assert.equal(r.kind, "run");
    return (r as { config: ClientConfig }).config;
  };
  const plain = run("Database");
  assert.deepEqual(
    [plain.host, plain.port, plain.user, plain.identityFiles, plain.hostKeyPolicy],
    ["db.internal", 2200, "pg", ["/k/db"], "strict"],
  );
  assert.deepEqual([plain.knownHostsFiles, plain.serverAliveInterval, plain.connectTimeout], [
    ["/kh"],
    9,
    4,
  ]);
  assert.equal(plain.localForwards.length, 1);
  const over = run(
    ...["-p", "22", "-l", "root", "-i", "/k/other", "--hostkey-policy=tofu"],
    ...["-o", "ServerAliveInterval=1", "-L", "8080:web:80", "Database"],
  );
  assert.deepEqual(
    [over.port, over.user, over.identityFiles, over.hostKeyPolicy, over.serverAliveInterval],
    [22, "root", ["/k/other"], "tofu", 1],
  );
  assert.deepEqual(over.localForwards.map((f) => f.listenPort), [5432, 8080]);
  assert.equal(run("-o", "User=u", "Database").user, "u");
});
