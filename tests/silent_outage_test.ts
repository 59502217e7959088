/**
 * A silent outage (issue 19, part 3): the link to sshd dies without a FIN,
 * and a client arrives during it. Keepalive is 30 s × 3 here, so waiting for
 * it would take 90 s or more; a channel open that goes unanswered for 3 s
 * makes the connection `suspect` and it is probed at once (3 probes, 2 s
 * apart), so the client fails fast (the CLI: exit 1) or, in the broker, is
 * carried by a fresh connection. Every bound below is far above the ~9 s
 * this takes and far below keepalive's 90 s.
 *
 * The warren CLI and broker as a user runs them, OpenSSH sshd in a network
 * namespace (the cut: its end of the veth down; the freeze: sshd's
 * per-connection process stopped), curl as the client. Needs root,
 * openssh-server and curl; otherwise ignored with one line on stderr.
 */
import assert from "node:assert/strict";
import { LiveCli } from "./_harness/cli.ts";
import { descendants } from "./_harness/procs.ts";
import { curl, realPeersUnsupported, warrenArgs } from "./_harness/real_peers.ts";
import {
  configXml,
  ctlJson,
  eventually,
  freePort,
  logins,
  profileXml,
  startBroker,
  startBrokerRig,
  staticXml,
} from "./_harness/broker_rig.ts";
import type { SessionInfo } from "../lib/profiles/session.ts";
import { skipWhen } from "./_harness/skip.ts";

const ignore = skipWhen("silent outage tests", realPeersUnsupported("curl"));

/** Far below keepalive's 30 s × 3, far above the ~9 s the probes take (~14 s with a reconnect). */
const BOUND_MS = 30_000;
const HELLO = "hello from origin\n";

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const result = await f();
  return [result, performance.now() - started];
}

Deno.test({
  name: "the CLI: a client arriving during a cut link fails within seconds, and warren exits 1",
  ignore,
  async fn() {
    await using rig = await startBrokerRig();
    const port = freePort();
    await using cli = new LiveCli(
      warrenArgs(
        rig.sshd,
        ...["-o", "ServerAliveInterval=30", "-o", "ServerAliveCountMax=3"],
        ...["-L", `${port}:127.0.0.1:${rig.origin.httpPort}`],
      ),
      { env: rig.env },
    );
    await cli.waitFor(/Local tunnel/);
    const url = `http://127.0.0.1:${port}/hello`;
    assert.equal((await curl([url])).stdout, HELLO);
    await rig.sshd.netns.setLink(false);
    try {
      const [r, ms] = await timed(() => curl(["--max-time", "120", url]));
      console.error(`  the client failed after ${(ms / 1000).toFixed(1)} s (curl ${r.code})`);
      assert.notEqual(r.code, 0, "no reply can come through a cut link");
      assert.ok(ms < BOUND_MS, `the client waited ${ms.toFixed(0)} ms`);
      assert.equal(await cli.exit(BOUND_MS), 1, cli.stderr);
      assert.match(
        cli.stderr,
        /error: Connection to \S+ lost: no answer to 3 probes in 6 s after a channel open went unanswered for 3 s/,
      );
    } finally {
      await rig.sshd.netns.setLink(true);
    }
  },
});

Deno.test({
  name: "the broker: ctl says suspect, a frozen connection's client is carried, a cut link's fails",
  ignore,
  async fn(t) {
    await using rig = await startBrokerRig();
    const port = freePort();
    const defaults = `<default-settings>
        <idle-timeout type="connection" time="300" />
        <tcp-connect-timeout time="5" />
        <keepalive-interval time="30" />
        <server-authentication-methods><auth-server-publickey policy="strict" /></server-authentication-methods>
      </default-settings>`;
    await Deno.writeTextFile(
      rig.config,
      configXml(rig, {
        defaults,
        profiles: [profileXml(rig, "p")],
        statics: [staticXml(port, rig.origin.httpPort, "p")],
      }),
    );
    await using broker = await startBroker(rig);
    const url = `http://127.0.0.1:${port}/hello`;
    assert.equal((await curl([url])).stdout, HELLO);
    const states = async () =>
      (await ctlJson<SessionInfo[]>(rig, "list-connections")).map((c) => c.state);
    assert.deepEqual(await states(), ["connected"]);

    await t.step(
      "sshd's side frozen: suspect, then the client is carried by a new connection",
      async () => {
        const master = Number(await Deno.readTextFile(`${rig.sshd.dir}/sshd.pid`));
        const frozen = descendants(master);
        assert.ok(frozen.length > 0);
        for (const p of frozen) Deno.kill(p.pid, "SIGSTOP");
        try {
          const fetching = timed(() => curl(["--max-time", "120", url]));
          await eventually(async () => (await states()).includes("suspect"), "ctl: suspect");
          const [r, ms] = await fetching;
          console.error(`  carried after ${(ms / 1000).toFixed(1)} s`);
          assert.equal(r.stdout, HELLO, r.stderr);
          assert.ok(ms < BOUND_MS, `the client waited ${ms.toFixed(0)} ms`);
          assert.equal(await logins(rig.sshd), 2);
          assert.match(broker.stderr, /lost: no answer to 3 probes/);
        } finally {
          for (const p of frozen) Deno.kill(p.pid, "SIGKILL");
        }
      },
    );

    await t.step("the link cut: the client fails within seconds", async () => {
      await rig.sshd.netns.setLink(false);
      try {
        const [r, ms] = await timed(() => curl(["--max-time", "120", url]));
        console.error(`  failed after ${(ms / 1000).toFixed(1)} s (curl ${r.code})`);
        assert.notEqual(r.code, 0);
        assert.ok(ms < BOUND_MS, `the client waited ${ms.toFixed(0)} ms`);
      } finally {
        await rig.sshd.netns.setLink(true);
      }
    });

    assert.equal(await broker.stop("SIGTERM"), 0, broker.stderr);
  },
});
