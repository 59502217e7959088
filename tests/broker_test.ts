/**
 * `warren broker` end to end against OpenSSH sshd on a namespace host: the
 * origins run inside the namespace, so only traffic that crosses SSH reaches
 * them. sshd's log tells when SSH connections were made; `ss` tells what
 * really listens and which connections are open.
 *
 * Needs root, iproute2, openssh-server, curl and ss; otherwise ignored with
 * one line on stderr.
 */
import assert from "node:assert/strict";
import { readExactly, roundTrip, testBytes } from "./_harness/local_servers.ts";
import { writeAll } from "../lib/net/io.ts";
import { curl, realPeersUnsupported } from "./_harness/real_peers.ts";
import { startOrigin } from "./_harness/origin.ts";
import {
  type BrokerRig,
  configXml,
  ctlJson,
  defaultsXml,
  eventually,
  freePort,
  listening,
  logins,
  profileXml,
  sshConnections,
  startBroker,
  startBrokerRig,
  staticXml,
} from "./_harness/broker_rig.ts";
import type { SessionInfo } from "../lib/profiles/session.ts";
import type { ListenerInfo } from "../lib/broker/listeners.ts";
import type { ReloadSummary } from "../lib/broker/broker.ts";
import { skipWhen } from "./_harness/skip.ts";

const ignore = skipWhen("broker tests", realPeersUnsupported("curl", "ss"));

const hello = async (port: number) => {
  const r = await curl([`http://127.0.0.1:${port}/hello`]);
  assert.equal(r.stdout, "hello from origin\n", r.stderr);
};

async function openConnections(rig: BrokerRig): Promise<SessionInfo[]> {
  return await ctlJson<SessionInfo[]>(rig, "list-connections");
}

Deno.test(
  { name: "broker: lazy connect, one shared connection, idle close and reopen", ignore },
  async (t) => {
    await using rig = await startBrokerRig();
    const [web, echo] = [freePort(), freePort()];
    await Deno.writeTextFile(
      rig.config,
      configXml(rig, {
        defaults: defaultsXml(1),
        profiles: [profileXml(rig, "lab")],
        statics: [
          staticXml(web, rig.origin.httpPort, "lab"),
          staticXml(echo, rig.origin.echoPort, "lab"),
        ],
      }),
    );
    await using broker = await startBroker(rig);

    await t.step("static tunnels listen before any SSH connection", async () => {
      const ports = await listening();
      assert.ok(ports.has(`127.0.0.1:${web}`), [...ports].join(" "));
      assert.ok(ports.has(`127.0.0.1:${echo}`));
      assert.equal(await logins(rig.sshd), 0, "sshd saw a login before the first client");
      assert.deepEqual(await sshConnections(rig.sshd), []);
      assert.deepEqual(await openConnections(rig), []);
    });

    await t.step("two tunnels of the profile share one SSH connection", async () => {
      await hello(web);
      const data = testBytes(256 * 1024, 3);
      assert.deepEqual(await roundTrip(echo, data), data);
      await hello(web);
      assert.equal(await logins(rig.sshd), 1);
      assert.equal((await sshConnections(rig.sshd)).length, 1, "ss: one TCP connection to sshd");
      const conns = await openConnections(rig);
      assert.equal(conns.length, 1, JSON.stringify(conns));
      assert.equal(conns[0].profile, "lab");
      assert.ok(conns[0].sent >= data.length, `sent ${conns[0].sent}`);
      assert.ok(conns[0].received >= data.length, `received ${conns[0].received}`);
    });

    await t.step("after idle-timeout with no channel the connection closes", async () => {
      await eventually(async () => (await openConnections(rig)).length === 0, "the idle close");
      await eventually(async () => (await sshConnections(rig.sshd)).length === 0, "ss to agree");
      await broker.waitFor(/Connection 1: idle, closing/);
      const ports = await listening();
      assert.ok(ports.has(`127.0.0.1:${web}`), "the listener stays");
    });

    await t.step("the next client opens a new connection", async () => {
      await hello(web);
      assert.equal(await logins(rig.sshd), 2);
      const conns = await openConnections(rig);
      assert.equal(conns.length <= 1, true);
    });

    assert.equal(await broker.stop("SIGTERM"), 0, broker.stderr);
    assert.match(broker.stderr, /Broker stopped/);
    await assert.rejects(Deno.stat(rig.socket), Deno.errors.NotFound);
    const ports = await listening();
    assert.ok(!ports.has(`127.0.0.1:${web}`), "listeners close with the broker");
  },
);

Deno.test(
  { name: "broker: a gateway-profile chain runs inside one TCP connection", ignore },
  async () => {
    await using rig = await startBrokerRig();
    const pin = `${rig.dir}/inner.pub`;
    await Deno.writeTextFile(pin, rig.sshd.hostKeyLine.split(" ").slice(1).join(" ") + "\n");
    const inner = (id: string, gateway: string) =>
      profileXml(rig, id, {
        host: "127.0.0.1",
        port: rig.innerPort,
        attrs: `gateway-profile="${gateway}"`,
        inner: `<hostkey file="${pin}" />`,
      });
    const [one, two] = [freePort(), freePort()];
    await Deno.writeTextFile(
      rig.config,
      configXml(rig, {
        profiles: [profileXml(rig, "outer"), inner("inner", "outer"), inner("innermost", "inner")],
        statics: [
          staticXml(one, rig.origin.httpPort, "inner"),
          staticXml(two, rig.origin.httpPort, "innermost"),
        ],
      }),
    );
    await using broker = await startBroker(rig);
    await hello(one);
    await hello(two);
    // sshd's inner port is on its namespace's loopback: only a jump reaches it.
    assert.equal(await logins(rig.sshd, "127.0.0.1"), 2);
    assert.equal(await logins(rig.sshd, rig.sshd.netns.hostAddr), 1);
    assert.equal(
      (await sshConnections(rig.sshd)).length,
      1,
      "one TCP connection carries all three",
    );
    const conns = await ctlJson<SessionInfo[]>(rig, "list-connections");
    assert.deepEqual(conns.map((c) => [c.profile, c.host.replace(/^.*? via /, "via ")]).sort(), [
      ["inner", "via outer"],
      ["innermost", "via inner"],
      ["outer", `${rig.sshd.host}:${rig.sshd.port}`],
    ]);
    const outer = conns.find((c) => c.profile === "outer")!;
    assert.equal(outer.channels, 1, "the outer connection carries inner's jump channel");
    assert.equal(await broker.stop(), 0, broker.stderr);
  },
);

Deno.test(
  { name: "broker: reload adds and removes a listener without dropping a live transfer", ignore },
  async () => {
    await using rig = await startBrokerRig();
    const [keep, drop, add] = [freePort(), freePort(), freePort()];
    const write = (statics: string[]) =>
      Deno.writeTextFile(
        rig.config,
        configXml(rig, { profiles: [profileXml(rig, "lab")], statics }),
      );
    const kept = staticXml(keep, rig.origin.echoPort, "lab");
    await write([kept, staticXml(drop, rig.origin.httpPort, "lab")]);
    await using broker = await startBroker(rig);
    const before = await ctlJson<ListenerInfo[]>(rig, "list-tunnel-listeners");

    // A transfer in progress through the listener that stays.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: keep });
    const first = testBytes(64 * 1024, 1);
    await writeAll(conn, first);
    assert.deepEqual(await readExactly(conn, first.length), first);

    await write([kept, staticXml(add, rig.origin.httpPort, "lab")]);
    const summary = await ctlJson<ReloadSummary>(rig, "reload");
    assert.deepEqual(summary, { added: 1, removed: 1, kept: 1, replacedProfiles: [] });

    const ports = await listening();
    assert.ok(!ports.has(`127.0.0.1:${drop}`), "the removed listener is closed");
    assert.ok(ports.has(`127.0.0.1:${add}`), "the added listener listens");
    await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: drop }));
    await hello(add);

    const second = testBytes(64 * 1024, 2);
    await writeAll(conn, second);
    assert.deepEqual(await readExactly(conn, second.length), second, "the live transfer goes on");
    assert.equal(await logins(rig.sshd), 1, "the connection survived the reload");

    // The profile's connection settings change: new clients get a new connection, the old
    // one finishes the transfer it carries and then closes.
    const changed = profileXml(rig, "lab", { inner: '<keepalive-interval time="20" />' });
    await Deno.writeTextFile(
      rig.config,
      configXml(rig, {
        profiles: [changed],
        statics: [kept, staticXml(add, rig.origin.httpPort, "lab")],
      }),
    );
    const again = await ctlJson<ReloadSummary>(rig, "reload");
    assert.deepEqual(again, { added: 0, removed: 0, kept: 2, replacedProfiles: ["lab"] });
    await hello(add);
    assert.equal(await logins(rig.sshd), 2, "a new connection for the new settings");
    assert.equal((await openConnections(rig)).length, 2);
    const third = testBytes(64 * 1024, 3);
    await writeAll(conn, third);
    assert.deepEqual(await readExactly(conn, third.length), third, "still on the old connection");
    conn.close();
    await eventually(async () => (await openConnections(rig)).length === 1, "the old one to close");
    await eventually(async () => (await sshConnections(rig.sshd)).length === 1, "ss to agree");

    const after = await ctlJson<ListenerInfo[]>(rig, "list-tunnel-listeners");
    const keptBefore = before.find((l) => l.listen.includes(`127.0.0.1:${keep}`))!;
    const keptAfter = after.find((l) => l.listen.includes(`127.0.0.1:${keep}`))!;
    assert.equal(keptAfter.id, keptBefore.id, "same listener, not a new one");
    assert.equal(keptAfter.total, 1);
    assert.equal(await broker.stop(), 0, broker.stderr);
  },
);

Deno.test({
  name: "broker: SIGHUP re-reads the config; a broken one is logged and changes nothing",
  ignore,
}, async () => {
  await using rig = await startBrokerRig();
  const [first, second] = [freePort(), freePort()];
  const write = (statics: string[]) =>
    Deno.writeTextFile(rig.config, configXml(rig, { profiles: [profileXml(rig, "lab")], statics }));
  await write([staticXml(first, rig.origin.httpPort, "lab")]);
  await using broker = await startBroker(rig);
  await hello(first);

  await write([
    staticXml(first, rig.origin.httpPort, "lab"),
    staticXml(second, rig.origin.httpPort, "lab"),
  ]);
  broker.child.kill("SIGHUP");
  await broker.waitFor(/Reloaded .*: 1 listener\(s\) added, 0 removed, 1 kept/);
  await hello(second);

  await Deno.writeTextFile(rig.config, "<secsh-broker><profiles>");
  broker.child.kill("SIGHUP");
  await broker.waitFor(
    /Reload failed: \S+ssh-broker-config\.xml:1:1: malformed XML: Unclosed tags/,
  );
  await hello(first);
  await hello(second);
  assert.equal(await broker.stop(), 0, broker.stderr);
});

Deno.test({
  name: "broker: a static tunnel that cannot listen is one line with its place in the file",
  ignore,
}, async () => {
  await using rig = await startBrokerRig();
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const ok = freePort();
    await Deno.writeTextFile(
      rig.config,
      configXml(rig, {
        profiles: [profileXml(rig, "lab")],
        statics: [staticXml(busy.addr.port, 80, "lab"), staticXml(ok, rig.origin.httpPort, "lab")],
      }),
    );
    await using broker = await startBroker(rig);
    const line = new RegExp(
      `warren: error: \\[broker\\] ${rig.config}:\\d+:\\d+: Cannot listen on 127\\.0\\.0\\.1:${busy.addr.port}: address already in use\\n`,
    );
    assert.match(broker.stderr, line);
    await hello(ok);
    assert.equal((await ctlJson<ListenerInfo[]>(rig, "list-tunnel-listeners")).length, 1);
    assert.equal(await broker.stop(), 0, broker.stderr);
  } finally {
    busy.close();
  }
});

Deno.test(
  {
    name:
      "broker: a socks-proxy tunnel follows <filter-engine>: tunnel via a profile, direct, block",
    ignore,
  },
  async () => {
    await using rig = await startBrokerRig();
    // An origin only this machine reaches (sshd's namespace has its own 127.0.0.1).
    await using near = await startOrigin();
    const proxy = freePort();
    await Deno.writeTextFile(
      rig.config,
      configXml(rig, {
        profiles: [profileXml(rig, "lab")],
        statics: [`<tunnel type="socks-proxy" listen-port="${proxy}" />`],
        filter: `<filter-engine>
      <rule host="localhost" ports="${rig.origin.httpPort}" action="TUNNEL" profile-id="lab" />
      <rule ip-address="127\\.0\\.0\\.1" ports="${near.httpPort}" action="DIRECT" />
      <rule host=".*" ports="${rig.origin.echoPort}" action="BLOCK" />
    </filter-engine>`,
      }),
    );
    await using broker = await startBroker(rig);
    const [listener] = await ctlJson<ListenerInfo[]>(rig, "list-tunnel-listeners");
    assert.deepEqual(
      [listener.type, listener.profile, listener.destination],
      ["socks", "(filter rules)", "(client's choice)"],
    );
    const via = ["-x", `socks5h://127.0.0.1:${proxy}`];

    // TUNNEL: sshd resolves localhost in its namespace, where the far origin is.
    const far = await curl(["--fail", ...via, `http://localhost:${rig.origin.httpPort}/hello`]);
    assert.equal(far.stdout, "hello from origin\n", far.stderr);
    assert.equal(await logins(rig.sshd), 1);
    // DIRECT: through sshd this address would be its namespace's, where nothing listens.
    const here = await curl(["--fail", ...via, `http://127.0.0.1:${near.httpPort}/hello`]);
    assert.equal(here.stdout, "hello from origin\n", here.stderr);
    // BLOCK, and a destination no rule matches: refused, nothing opened.
    const blocked = await curl([...via, `http://localhost:${rig.origin.echoPort}/`]);
    assert.notEqual(blocked.code, 0);
    const unmatched = await curl([...via, `http://localhost:${rig.origin.httpPort + 1}/`]);
    assert.notEqual(unmatched.code, 0);

    const log = await rig.sshd.log();
    const target = (p: number) => new RegExp(`server_request_direct_tcpip: .*port ${p}\\b`);
    assert.match(log, target(rig.origin.httpPort));
    for (const p of [near.httpPort, rig.origin.echoPort, rig.origin.httpPort + 1]) {
      assert.doesNotMatch(log, target(p));
    }
    assert.equal(await broker.stop("SIGTERM"), 0, broker.stderr);
    assert.match(
      broker.stderr,
      new RegExp(
        `localhost:${rig.origin.echoPort} \\(SOCKS5, the <filter-engine> rule at \\S+:22:7\\): refused`,
      ),
    );
    assert.match(
      broker.stderr,
      new RegExp(`localhost:${rig.origin.httpPort + 1} \\(SOCKS5, no rule matches\\): refused`),
    );
  },
);
