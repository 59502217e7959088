import assert from "node:assert/strict";
import { parseCommandLine } from "./args.ts";
import { clientNeedsOnceUp, clientNeedsToStart, foregroundNeeds } from "./client_scope.ts";
import type { ClientConfig } from "../profiles/client_config.ts";
import type { ConnectOptions } from "../ssh/connection.ts";

const ENV: Record<string, string> = { HOME: "/home/ann", USER: "ann" };

function config(...argv: string[]): ClientConfig {
  const r = parseCommandLine(argv, (name) => ENV[name]);
  assert.equal(r.kind, "run");
  return (r as { config: ClientConfig }).config;
}

const quiet = { interactive: false };

Deno.test("client scope: a plain -L run in batch mode keeps nothing, before or once up", () => {
  const c = config("-B", "-L", "5432:db:5432", "--hostkey-policy=strict", "bastion");
  assert.deepEqual(clientNeedsToStart(c, quiet), {});
  assert.deepEqual(clientNeedsOnceUp(c), {});
});

Deno.test("client scope: each reason to keep run, write or env, and none once up but the PidFile", () => {
  const c = config(
    ...["-o", "PidFile=/run/w.pid", "--hostkey-policy=tofu", "-P", "extprog://pass show db"],
    ...["bastion", "--", "npm", "test"],
  );
  const agent = "/tmp/ssh-x/agent.1";
  assert.deepEqual(clientNeedsToStart(c, { interactive: false, agentSocket: agent }), {
    run: ["the command after --: npm", "-P extprog:// password program"],
    write: [
      "PidFile /run/w.pid",
      `the agent socket ${agent} (connecting needs write access)`,
      "--hostkey-policy tofu: new host keys go to /home/ann/.ssh/known_hosts",
    ],
  });
  assert.deepEqual(clientNeedsOnceUp(c), { write: ["PidFile /run/w.pid, removed at exit"] });
});

Deno.test("client scope: ask writes only when it can ask; advisory writes; env:// keeps env", () => {
  const ask = config("bastion");
  assert.deepEqual(clientNeedsToStart(ask, quiet), {});
  assert.deepEqual(clientNeedsToStart(ask, { interactive: true }), {
    write: ["--hostkey-policy ask: an accepted host key goes to /home/ann/.ssh/known_hosts"],
  });
  const advisory = config("--hostkey-policy=advisory", "-P", "env://DB_PW", "bastion");
  assert.deepEqual(clientNeedsToStart(advisory, quiet), {
    write: ["--hostkey-policy advisory: new host keys go to /home/ann/.ssh/known_hosts"],
    env: ["-P env://DB_PW"],
  });
});

Deno.test("client scope: a gateway's own policy and password source count too", () => {
  const c = config("--hostkey-policy=strict", "bastion");
  const gateway: ConnectOptions = {
    host: "jump",
    port: 22,
    user: "ann",
    identityFiles: [],
    explicitIdentities: false,
    hostKeyPolicy: "tofu",
    knownHostsFiles: ["/home/ann/.ssh/jump_hosts"],
    passwordSource: "extprog://get-pw",
    connectTimeout: 15,
    keepaliveInterval: 0,
    keepaliveCountMax: 3,
  };
  assert.deepEqual(clientNeedsToStart({ ...c, gateways: [gateway] }, quiet), {
    run: ["-P extprog:// password program"],
    write: ["--hostkey-policy tofu: new host keys go to /home/ann/.ssh/jump_hosts"],
  });
});

Deno.test("client scope: the -f foreground keeps run only", () => {
  assert.deepEqual(Object.keys(foregroundNeeds()), ["run"]);
});

Deno.test("clientNeedsToStart(): a ProxyCommand keeps run, to start it when connecting", () => {
  const needs = clientNeedsToStart(
    config("-o", "ProxyCommand=nc -X connect -x proxy:3128 %h %p", "h"),
    { interactive: false },
  );
  assert.deepEqual(needs.run, ["ProxyCommand nc -X connect -x proxy:3128 %h %p"]);
});

Deno.test("client scope: Unix sockets here keep write throughout; the server's do not", () => {
  const c = config(
    "-B",
    "--hostkey-policy=strict",
    ...["-L", "/run/w/l.sock:db:5432", "-L", "2375:/var/run/docker.sock"],
    ...["-R", "8080:/run/app.sock", "-R", "/srv/r.sock:localhost:80"],
    "bastion",
  );
  assert.deepEqual(clientNeedsToStart(c, quiet), {
    write: [
      "the Unix socket /run/w/l.sock, created here",
      "the Unix socket /run/app.sock (connecting needs write access)",
    ],
  });
  assert.deepEqual(clientNeedsOnceUp(c), {
    write: [
      "the Unix socket /run/w/l.sock, removed at exit",
      "the Unix socket /run/app.sock, connected for each connection",
    ],
  });
});
