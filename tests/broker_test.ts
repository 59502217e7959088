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
import { roundTrip, testBytes } from "./_harness/local_servers.ts";
import { curl, realPeersUnsupported } from "./_harness/real_peers.ts";
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
import type { SessionInfo } from "../lib/broker/profile_link.ts";
import type { ListenerInfo } from "../lib/broker/listeners.ts";

const unsupported = realPeersUnsupported("curl", "ss");
if (unsupported) console.error(`skipping broker tests: ${unsupported}`);
const ignore = unsupported !== undefined;

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
      assert.match(broker.stderr, /Connection 1: idle, closing/);
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
