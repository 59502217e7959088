/**
 * The broker's control endpoint as users meet it, with a real broker and
 * OpenSSH sshd: the Unix socket (0600) and the loopback TCP port with its
 * token file (0600), one broker per address, and the socket a killed broker
 * leaves behind.
 */
import assert from "node:assert/strict";
import { LiveCli, runCli } from "./_harness/cli.ts";
import { realPeersUnsupported } from "./_harness/real_peers.ts";
import {
  configXml,
  ctl,
  ctlJson,
  freePort,
  profileXml,
  startBroker,
  startBrokerRig,
} from "./_harness/broker_rig.ts";
import type { BrokerStatus } from "../lib/broker/broker.ts";
import { skipWhen } from "./_harness/skip.ts";

const ignore = skipWhen("control endpoint tests", realPeersUnsupported("curl", "ss"));

Deno.test(
  { name: "ctl: loopback TCP control with a token file; one broker per address", ignore },
  async () => {
    await using rig = await startBrokerRig();
    await Deno.writeTextFile(rig.config, configXml(rig, { profiles: [profileXml(rig, "lab")] }));
    const port = freePort();
    const address = `tcp:127.0.0.1:${port}`;
    await using broker = new LiveCli(["broker", "--config", rig.config, "-a", address], {
      env: rig.env,
    });
    await broker.waitFor(/Broker ready/);
    const token = `${rig.env.XDG_RUNTIME_DIR}/warren/broker-tcp-${port}.token`;
    assert.equal((await Deno.stat(token)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(`${rig.env.XDG_RUNTIME_DIR}/warren`)).mode! & 0o777, 0o700);

    const ok = await runCli(["ctl", "--json", "status"], {
      env: { ...rig.env, WARREN_BROKER: address },
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).control, address);

    // Without the token the broker answers nothing useful.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode('{"command":"stop"}\n'));
    const buf = new Uint8Array(4096);
    const n = await conn.read(buf);
    conn.close();
    assert.deepEqual(JSON.parse(new TextDecoder().decode(buf.subarray(0, n!))), {
      ok: false,
      error: "Refused: missing or wrong token",
      usage: false,
    });

    const second = await runCli(["broker", "--config", rig.config, "-a", address], {
      env: rig.env,
    });
    assert.equal(second.code, 1);
    assert.match(
      second.stderr,
      /Cannot listen on tcp:127\.0\.0\.1:\d+: address already in use \(is a broker running\?\)/,
    );
    assert.equal(await broker.stop(), 0, broker.stderr);
    await assert.rejects(Deno.stat(token), Deno.errors.NotFound);
  },
);

Deno.test({
  name: "ctl: a second broker on the same socket is refused; a dead one's socket is replaced",
  ignore,
}, async () => {
  await using rig = await startBrokerRig();
  await Deno.writeTextFile(rig.config, configXml(rig, { profiles: [profileXml(rig, "lab")] }));
  await using broker = await startBroker(rig);
  const mode = (await Deno.stat(rig.socket)).mode! & 0o777;
  assert.equal(mode, 0o600);
  const second = await runCli(["broker", "--config", rig.config, "-a", rig.socket], {
    env: rig.env,
  });
  assert.equal(second.code, 1);
  assert.equal(second.stderr, `warren: A broker is already running at ${rig.socket}\n`);
  const s = await ctlJson<BrokerStatus>(rig, "status");
  assert.equal(s.pid, broker.child.pid, "the first broker still answers");

  // A broker killed hard leaves its socket behind: ctl says so, a new broker replaces it.
  await broker.stop("SIGKILL");
  await Deno.stat(rig.socket);
  const stale = await ctl(rig, "list-connections");
  assert.equal(stale.code, 1);
  assert.equal(
    stale.stderr,
    `warren: No broker running at ${rig.socket} (nobody listens); start one with 'warren broker'\n`,
  );
  await using again = await startBroker(rig);
  assert.equal((await ctlJson<BrokerStatus>(rig, "status")).pid, again.child.pid);
  assert.equal(await again.stop(), 0, again.stderr);
});
