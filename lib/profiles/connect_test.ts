import assert from "node:assert/strict";
import type { ProfileConfig, TunnelConfig } from "../config/tectia/model.ts";
import { parseBrokerConfig } from "../config/tectia/load.ts";
import { connectOptionsFor, forwardSpecOf, pinnedKeys } from "./connect.ts";

const KEY = "AAAAC3NzaC1lZDI1NTE5AAAAIBn0TvNfyQqXkh2S7i2n3V6ZtXYfGQ0uN6x9z1w2e3r4";

function config(dir: string, profile: string) {
  const env = (name: string) =>
    ({ HOME: "/home/ann", USER: "ann", XDG_RUNTIME_DIR: dir, SSH_AUTH_SOCK: "/agent" })[name];
  const c = parseBrokerConfig(
    `<secsh-broker><general><known-hosts file="/kh" /></general><profiles>${profile}</profiles></secsh-broker>`,
    `${dir}/c.xml`,
    env,
  );
  return { c, env, p: c.profiles[0] as ProfileConfig };
}

Deno.test("connectOptionsFor(): the profile's settings; auth methods choose keys and passwords", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { c, env, p } = config(
      dir,
      `<profile id="a" host="h.example" port="2222" user="bob">
         <ciphers><cipher name="aes128-ctr" /></ciphers>
         <macs><mac name="hmac-sha2-256" /></macs>
         <kexs><kex name="curve25519-sha256" /></kexs>
         <hostkey-algorithms><hostkey-algorithm name="ssh-ed25519" /></hostkey-algorithms>
         <authentication-methods><auth-password /></authentication-methods>
         <keepalive-interval time="7" />
         <user-identities><identity file="/k/id" /></user-identities>
         <password file="/pw" />
       </profile>`,
    );
    const opts = await connectOptionsFor(p, c, env);
    assert.equal(opts.host, "h.example");
    assert.equal(opts.port, 2222);
    assert.equal(opts.user, "bob");
    assert.deepEqual(opts.identityFiles, [], "publickey not listed: no key files");
    assert.equal(opts.agentSocket, undefined);
    assert.equal(opts.passwordSource, "file:///pw");
    assert.deepEqual(opts.knownHostsFiles, ["/kh"]);
    assert.equal(opts.keepaliveInterval, 7);
    assert.deepEqual(opts.ciphers, ["aes128-ctr"]);
    assert.deepEqual(opts.macs, ["hmac-sha2-256"]);
    assert.deepEqual(opts.kexs, ["curve25519-sha256"]);
    assert.deepEqual(opts.hostKeyAlgorithms, ["ssh-ed25519"]);
    assert.deepEqual(opts.authMethods, ["password"]);

    const keys = config(dir, `<profile id="b" host="h" />`);
    const k = await connectOptionsFor(keys.p, keys.c, keys.env);
    assert.equal(k.user, "ann");
    assert.equal(k.agentSocket, "/agent");
    assert.deepEqual(k.identityFiles, [
      "/home/ann/.ssh/id_ed25519",
      "/home/ann/.ssh/id_ecdsa",
      "/home/ann/.ssh/id_rsa",
    ]);
    assert.equal(k.explicitIdentities, false);
    assert.equal(k.ciphers, undefined);
    assert.deepEqual(k.authMethods, ["publickey", "keyboard-interactive", "password"]);

    const ordered = config(
      dir,
      `<profile id="c" host="h">
         <authentication-methods>
           <auth-keyboard-interactive /><auth-publickey /><auth-password />
         </authentication-methods>
       </profile>`,
    );
    const o = await connectOptionsFor(ordered.p, ordered.c, ordered.env);
    assert.deepEqual(o.authMethods, ["keyboard-interactive", "publickey", "password"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("connectOptionsFor(): <hostkey file> pins the key for this host and port, strictly", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/server.pub`, `ssh-ed25519 ${KEY} root@server\n`);
    const { c, env, p } = config(
      dir,
      `<profile id="a" host="10.0.0.5" port="2222"><hostkey file="server.pub" /></profile>`,
    );
    const opts = await connectOptionsFor(p, c, env);
    assert.equal(opts.hostKeyPolicy, "strict");
    assert.equal(opts.knownHostsFiles.length, 1);
    const pin = opts.knownHostsFiles[0];
    assert.ok(pin.startsWith(`${dir}/warren/pins/`), pin);
    assert.equal(await Deno.readTextFile(pin), `[10.0.0.5]:2222 ssh-ed25519 ${KEY}\n`);
    assert.equal((await Deno.stat(pin)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(`${dir}/warren`)).mode! & 0o777, 0o700);

    const missing = config(dir, `<profile id="m" host="h"><hostkey file="nope.pub" /></profile>`);
    await assert.rejects(connectOptionsFor(missing.p, missing.c, missing.env), {
      name: "ConfigError",
      message: new RegExp(
        `c\\.xml:1:\\d+: cannot read the host key file ${dir}/nope\\.pub of profile 'm': no such file`,
      ),
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pinnedKeys(): .pub and known_hosts lines; nothing usable is an error", () => {
  assert.equal(pinnedKeys(`ssh-ed25519 ${KEY} c\n`, "f").length, 1);
  assert.equal(
    pinnedKeys(`# c\n[h]:22,h2 ssh-ed25519 ${KEY}\nh3 ssh-ed25519 ${KEY}\n`, "f").length,
    2,
  );
  assert.throws(() => pinnedKeys("garbage\n", "keys/x.pub"), {
    name: "ConfigError",
    message: "keys/x.pub: no public key found (expected a .pub or known_hosts file)",
  });
});

Deno.test("forwardSpecOf(): allow-relay without an address listens everywhere", () => {
  const t = (extra: Partial<TunnelConfig>): TunnelConfig => ({
    direction: "local",
    type: "tcp",
    listenPort: 8080,
    dstHost: "web",
    dstPort: 80,
    allowRelay: false,
    source: { file: "f", line: 1, col: 1 },
    ...extra,
  });
  assert.deepEqual(forwardSpecOf(t({})), {
    protocol: "tcp",
    listenPort: 8080,
    dstHost: "web",
    dstPort: 80,
  });
  assert.equal(forwardSpecOf(t({ allowRelay: true })).listenAddress, "*");
  assert.equal(forwardSpecOf(t({ listenAddress: "::1" })).listenAddress, "::1");
  assert.deepEqual(
    forwardSpecOf(
      t({ type: "socks", dstHost: undefined, dstPort: undefined, listenAddress: "127.0.0.1" }),
    ),
    { protocol: "socks", listenPort: 8080, listenAddress: "127.0.0.1" },
  );
});
