/**
 * `warren broker` when connections are lost, against OpenSSH sshd on a
 * namespace host: sshd restarted under it, and a server side that stops
 * answering while it keeps the remote tunnel's port. Listeners must stay up;
 * clients and remote tunnels come back. sshd's log counts the logins, `ss`
 * says what listens.
 *
 * Needs root, iproute2, openssh-server, curl and ss; otherwise ignored with
 * one line on stderr.
 */
import assert from "node:assert/strict";
import { startOrigin } from "./_harness/origin.ts";
import { descendants } from "./_harness/procs.ts";
import { curl, realPeersUnsupported } from "./_harness/real_peers.ts";
import {
  configXml,
  ctlJson,
  eventually,
  freePort,
  listening,
  logins,
  profileXml,
  randomPort,
  startBroker,
  startBrokerRig,
  staticXml,
} from "./_harness/broker_rig.ts";
import type { ListenerInfo } from "../lib/broker/listeners.ts";
import { skipWhen } from "./_harness/skip.ts";

const ignore = skipWhen("broker reconnect tests", realPeersUnsupported("curl", "ss"));

const hello = async (port: number) => {
  const r = await curl([`http://127.0.0.1:${port}/hello`]);
  assert.equal(r.stdout, "hello from origin\n", r.stderr);
};

Deno.test(
  {
    name: "broker: sshd restarts under it; listeners stay, clients and remote tunnels come back",
    ignore,
  },
  async (t) => {
    await using rig = await startBrokerRig();
    await using here = await startOrigin(); // on this host: the remote tunnel's destination
    const [held, lazy, remote] = [
      freePort(),
      freePort(),
      randomPort(),
    ];
    const tunnels = `<tunnels>
        <local-tunnel type="tcp" listen-port="${held}" dst-host="127.0.0.1" dst-port="${rig.origin.httpPort}" />
        <remote-tunnel type="tcp" listen-port="${remote}" dst-host="127.0.0.1" dst-port="${here.httpPort}" />
      </tunnels>`;
    await Deno.writeTextFile(
      rig.config,
      configXml(rig, {
        profiles: [
          profileXml(rig, "always", { attrs: 'connect-on-startup="yes"', inner: tunnels }),
          profileXml(rig, "lazy"),
        ],
        statics: [staticXml(lazy, rig.origin.httpPort, "lazy")],
      }),
    );
    await using broker = await startBroker(rig);
    const insideHello = async () => {
      const r = await curl([`http://127.0.0.1:${remote}/hello`], rig.sshd.netns);
      return r.stdout === "hello from origin\n";
    };

    await t.step("connect-on-startup: connected at start, its tunnels open", async () => {
      await eventually(insideHello, "the remote tunnel on the server");
      assert.equal(await logins(rig.sshd), 1);
      await hello(held);
      const listeners = await ctlJson<ListenerInfo[]>(rig, "list-tunnel-listeners");
      assert.deepEqual(
        listeners.map((l) => [l.direction, l.origin, l.profile]).sort(),
        [["local", "profile", "always"], ["local", "static", "lazy"], [
          "remote",
          "profile",
          "always",
        ]],
      );
    });

    await t.step("sshd restarts: every listener here stays up", async () => {
      await hello(lazy); // the lazy profile is connected too now
      assert.equal(await logins(rig.sshd), 2);
      await rig.sshd.restart();
      const ports = await listening();
      for (const p of [held, lazy]) assert.ok(ports.has(`127.0.0.1:${p}`), `${p} stays`);
    });

    await t.step("the next client reconnects the lazy profile", async () => {
      await hello(lazy);
    });

    await t.step(
      "the held profile reconnects by itself and asks for its remote tunnel again",
      async () => {
        await eventually(insideHello, "the remote tunnel after the restart");
        assert.equal(await logins(rig.sshd), 4);
        const remoteL = (await ctlJson<ListenerInfo[]>(rig, "list-tunnel-listeners"))
          .find((l) => l.direction === "remote")!;
        assert.equal(remoteL.state, "listening on the server");
        await broker.waitFor(/Connection \d+: Connection to .* lost/);
        await hello(held);
      },
    );

    assert.equal(await broker.stop("SIGINT"), 0, broker.stderr);
  },
);

Deno.test(
  { name: "broker: a remote tunnel is retried while the server still holds the old port", ignore },
  async () => {
    await using rig = await startBrokerRig();
    await using here = await startOrigin();
    const remote = randomPort();
    const tunnels = `<keepalive-interval time="1" /><tunnels>
        <remote-tunnel type="tcp" listen-port="${remote}" dst-host="127.0.0.1" dst-port="${here.httpPort}" />
      </tunnels>`;
    await Deno.writeTextFile(
      rig.config,
      configXml(rig, {
        profiles: [
          profileXml(rig, "always", { attrs: 'connect-on-startup="yes"', inner: tunnels }),
        ],
      }),
    );
    await using broker = await startBroker(rig);
    const insideHello = async () => {
      const r = await curl([`http://127.0.0.1:${remote}/hello`], rig.sshd.netns);
      return r.stdout === "hello from origin\n";
    };
    await eventually(insideHello, "the remote tunnel");
    // Freeze the server side of the connection: it keeps the port but answers nothing.
    const master = Number(await Deno.readTextFile(`${rig.sshd.dir}/sshd.pid`));
    const frozen = descendants(master);
    assert.ok(frozen.length > 0);
    for (const p of frozen) Deno.kill(p.pid, "SIGSTOP");
    try {
      await broker.waitFor(/lost: no reply to 3 keepalives/);
      const remoteState = async () =>
        (await ctlJson<ListenerInfo[]>(rig, "list-tunnel-listeners"))[0].state;
      await eventually(
        async () => (await remoteState()).startsWith("refused, retrying"),
        "the refused request on the new connection",
      );
      assert.equal(await logins(rig.sshd), 2);
    } finally {
      for (const p of frozen) Deno.kill(p.pid, "SIGKILL");
    }
    await eventually(insideHello, "the remote tunnel once the old port is free");
    await broker.waitFor(/Remote tunnel \d+: .*; retrying in/);
    assert.equal(await broker.stop(), 0, broker.stderr);
  },
);
