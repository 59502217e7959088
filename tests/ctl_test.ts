/**
 * `warren ctl` against a running `warren broker` and OpenSSH sshd: every
 * listing is compared with what `ss` says the broker process really has
 * open (its listening sockets, its TCP connections to sshd) and with what
 * sshd listens on for remote tunnels.
 */
import assert from "node:assert/strict";
import { runCli } from "./_harness/cli.ts";
import { startOrigin } from "./_harness/origin.ts";
import { curl, realPeersUnsupported } from "./_harness/real_peers.ts";
import {
  type BrokerRig,
  configXml,
  ctl,
  ctlJson,
  eventually,
  freePort,
  isolatedEnv,
  profileXml,
  randomPort,
  ss,
  startBroker,
  startBrokerRig,
  staticXml,
} from "./_harness/broker_rig.ts";
import type { BrokerStatus } from "../lib/broker/broker.ts";
import type { ListenerInfo } from "../lib/broker/listeners.ts";
import type { SessionInfo } from "../lib/profiles/session.ts";
import { skipWhen } from "./_harness/skip.ts";

const ignore = skipWhen("ctl tests", realPeersUnsupported("curl", "ss"));

/** Local addresses the process `pid` listens on (TCP), as ss prints them. */
async function listenersOf(pid: number): Promise<Set<string>> {
  const lines = (await ss(["-ltnp"])).filter((l) => l.includes(`pid=${pid},`));
  return new Set(lines.map((l) => l.trim().split(/\s+/)[3]));
}

/** The process's established TCP connections to sshd. */
async function sshConnectionsOf(rig: BrokerRig, pid: number): Promise<string[]> {
  return (await ss(["-tnp", "state", "established", "dst", `${rig.sshd.host}:${rig.sshd.port}`]))
    .filter((l) => l.includes(`pid=${pid},`));
}

/** Addresses listening inside the sshd namespace. */
async function serverListening(rig: BrokerRig): Promise<Set<string>> {
  const lines = await ss(["-ltn"], rig.sshd.netns);
  return new Set(lines.map((l) => l.trim().split(/\s+/)[3]));
}

/** Normalise "[::1]:80" (warren) and "[::1]:80" / "127.0.0.1:80" (ss) alike. */
function localAddresses(listeners: ListenerInfo[]): Set<string> {
  return new Set(listeners.filter((l) => l.direction === "local").flatMap((l) => l.listen));
}

Deno.test({ name: "ctl: no broker is one line and exit 1; usage mistakes exit 2" }, async () => {
  const dir = await Deno.makeTempDir({ prefix: "warren-ctl-" });
  try {
    const env = { ...isolatedEnv(dir), XDG_RUNTIME_DIR: dir };
    const missing = await runCli(["ctl", "-a", `${dir}/none.sock`, "status"], { env });
    assert.equal(missing.code, 1);
    assert.equal(
      missing.stderr,
      `warren: No broker running at ${dir}/none.sock (no socket); start one with 'warren broker'\n`,
    );
    const viaEnv = await runCli(["ctl", "status"], {
      env: { ...env, WARREN_BROKER: `tcp:${freePort()}` },
    });
    assert.equal(viaEnv.code, 1);
    assert.match(viaEnv.stderr, /No broker running at tcp:127\.0\.0\.1:\d+ \(no .*\.token\)/);
    for (
      const [args, message] of [
        [["bogus"], /unknown command 'bogus'/],
        [["close-connection", "x"], /'x' is not an id/],
        [["open-tunnel-listener", "-L", "8080:a:80"], /expected \[-L\|-R\] SPEC PROFILE/],
        [["status", "extra"], /expected 'warren ctl status'/],
        [[], /missing command/],
      ] as const
    ) {
      const r = await runCli(["ctl", "-a", `${dir}/none.sock`, ...args], { env });
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    const help = await runCli(["--help"], { env });
    for (const sub of ["broker", "ctl", "probe-key"]) {
      assert.match(help.stdout, new RegExp(`warren ${sub} `));
    }
    const ctlHelp = await runCli(["ctl", "--help"], { env });
    assert.equal(ctlHelp.code, 0);
    assert.match(ctlHelp.stdout, /close-tunnel-listener ID\|\[ADDRESS\]:PORT/);

    // The broker itself: a config mistake or a missing file is one line, exit 2.
    await Deno.writeTextFile(
      `${dir}/bad.xml`,
      "<secsh-broker>\n  <profiles><profile id='x'/></profiles>\n</secsh-broker>\n",
    );
    const bad = await runCli(["broker", "--config", `${dir}/bad.xml`, "-a", `${dir}/b.sock`], {
      env,
    });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, new RegExp(`^warren: ${dir}/bad\\.xml:2:13: <profile> needs host=`));
    assert.equal(bad.stderr.trimEnd().split("\n").length, 1, bad.stderr);
    const none = await runCli(["broker", "--config", `${dir}/none.xml`], { env });
    assert.equal(none.code, 2);
    assert.equal(none.stderr, `warren: Cannot read config file ${dir}/none.xml: no such file\n`);
    const extra = await runCli(["broker", "now"], { env });
    assert.equal(extra.code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({ name: "ctl: every listing matches what is really open", ignore }, async (t) => {
  await using rig = await startBrokerRig();
  await using here = await startOrigin();
  const [web, socks, remote] = [
    freePort(),
    freePort(),
    randomPort(),
  ];
  const held =
    `<tunnels><remote-tunnel type="tcp" listen-port="${remote}" dst-host="127.0.0.1" dst-port="${here.httpPort}" /></tunnels>`;
  await Deno.writeTextFile(
    rig.config,
    configXml(rig, {
      profiles: [
        profileXml(rig, "lab", { attrs: 'name="The Lab"' }),
        profileXml(rig, "always", { attrs: 'connect-on-startup="yes"', inner: held }),
      ],
      statics: [staticXml(web, rig.origin.httpPort, "lab"), staticXml(socks, 0, "lab", "socks")],
    }),
  );
  await using broker = await startBroker(rig);
  const pid = broker.child.pid;
  const listeners = () => ctlJson<ListenerInfo[]>(rig, "list-tunnel-listeners");
  const connections = () => ctlJson<SessionInfo[]>(rig, "list-connections");
  await eventually(
    async () => (await serverListening(rig)).has(`127.0.0.1:${remote}`),
    "the remote tunnel",
  );

  await t.step("status", async () => {
    const s = await ctlJson<BrokerStatus>(rig, "status");
    assert.equal(s.pid, pid);
    assert.equal(s.config, rig.config);
    assert.equal(s.control, rig.socket);
    assert.deepEqual([s.profiles, s.listeners, s.connections], [2, 3, 1]);
    const text = await ctl(rig, "status");
    assert.match(text.stdout, new RegExp(`^pid +${pid}$`, "m"));
    assert.match(text.stdout, /^listeners +3$/m);
  });

  await t.step("list-tunnel-listeners = the broker's sockets in ss -ltnp", async () => {
    const list = await listeners();
    assert.deepEqual(await listenersOf(pid), localAddresses(list));
    assert.ok(localAddresses(list).has(`127.0.0.1:${web}`));
    const r = list.find((l) => l.direction === "remote")!;
    assert.deepEqual(r.listen, [`localhost:${remote}`]);
    assert.equal(r.state, "listening on the server");
    const server = await serverListening(rig);
    assert.ok(server.has(`127.0.0.1:${remote}`), [...server].join(" "));
    const socksL = list.find((l) => l.type === "socks")!;
    assert.equal(socksL.destination, "(client's choice)");
    const table = (await ctl(rig, "list-tunnel-listeners")).stdout.trimEnd().split("\n");
    assert.match(
      table[0],
      /^ID +TYPE +LISTEN +DESTINATION +PROFILE +FROM +CONNS +SENT +RECEIVED +STATE$/,
    );
    assert.equal(table.length, 4);
  });

  await t.step("list-connections = the broker's TCP connections to sshd", async () => {
    assert.equal((await connections()).length, 1);
    assert.equal((await sshConnectionsOf(rig, pid)).length, 1);
    const r = await curl([
      "-x",
      `socks5h://127.0.0.1:${socks}`,
      `http://127.0.0.1:${rig.origin.httpPort}/hello`,
    ]);
    assert.equal(r.stdout, "hello from origin\n", r.stderr);
    const list = await connections();
    assert.deepEqual(list.map((c) => c.profile).sort(), ["always", "lab"]);
    assert.equal((await sshConnectionsOf(rig, pid)).length, 2);
    const lab = list.find((c) => c.profile === "lab")!;
    assert.ok(lab.received >= "hello from origin\n".length, JSON.stringify(lab));
    const socksL = (await listeners()).find((l) => l.type === "socks")!;
    assert.equal(socksL.total, 1);
    assert.equal(socksL.received, lab.received, "one listener carried all of lab's traffic");
  });

  await t.step("channels: a live tunneled connection is one channel", async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: web });
    try {
      await eventually(
        async () => (await connections()).find((c) => c.profile === "lab")?.channels === 1,
        "one channel",
      );
      const w = (await listeners()).find((l) => l.listen.includes(`127.0.0.1:${web}`))!;
      assert.equal(w.connections, 1);
    } finally {
      conn.close();
    }
    await eventually(
      async () => (await connections()).find((c) => c.profile === "lab")?.channels === 0,
      "no channel",
    );
  });

  await t.step("open-tunnel-listener -L and -R, by profile name and id", async () => {
    const port = freePort();
    const r = await ctl(
      rig,
      "open-tunnel-listener",
      "-L",
      `${port}:127.0.0.1:${rig.origin.httpPort}`,
      "The Lab",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(
        `^Opened tunnel listener \\d+: -L tcp 127\\.0\\.0\\.1:${port}.* \\(profile lab\\)`,
      ),
    );
    const h = await curl([`http://127.0.0.1:${port}/hello`]);
    assert.equal(h.stdout, "hello from origin\n", h.stderr);
    const remote2 = randomPort();
    const opened = await ctlJson<ListenerInfo>(
      rig,
      "open-tunnel-listener",
      "-R",
      `${remote2}:127.0.0.1:${here.httpPort}`,
      "lab",
    );
    assert.equal(opened.direction, "remote");
    await eventually(
      async () => (await serverListening(rig)).has(`127.0.0.1:${remote2}`),
      "the new remote listener on the server",
    );
    const list = await listeners();
    assert.equal(list.length, 5);
    assert.deepEqual(await listenersOf(pid), localAddresses(list));

    // -R socks/: sshd listens; curl there is served from the broker's side, where `here` is.
    const socksPort = randomPort();
    const socks = await ctlJson<ListenerInfo>(
      rig,
      "open-tunnel-listener",
      "-R",
      `socks/${socksPort}`,
      "lab",
    );
    await eventually(
      async () => (await serverListening(rig)).has(`127.0.0.1:${socksPort}`),
      "the remote proxy listener on the server",
    );
    const viaSocks = await curl(
      ["-x", `socks5h://127.0.0.1:${socksPort}`, `http://localhost:${here.httpPort}/hello`],
      rig.sshd.netns,
    );
    assert.equal(viaSocks.stdout, "hello from origin\n", viaSocks.stderr);
    await ctlJson<ListenerInfo>(rig, "close-tunnel-listener", String(socks.id));
    await eventually(
      async () => !(await serverListening(rig)).has(`127.0.0.1:${socksPort}`),
      "the server to stop listening on the proxy port",
    );

    const bad = await ctl(rig, "open-tunnel-listener", `${port}:127.0.0.1:80`, "lab");
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /^warren: Cannot listen on 127\.0\.0\.1:\d+: address already in use\n$/,
    );
    const noProfile = await ctl(rig, "open-tunnel-listener", "1234:a:80", "nope");
    assert.equal(noProfile.code, 2);
    assert.match(noProfile.stderr, /No profile 'nope'/);

    const byId = await ctlJson<ListenerInfo>(rig, "close-tunnel-listener", String(opened.id));
    assert.equal(byId.id, opened.id);
    await eventually(
      async () => !(await serverListening(rig)).has(`127.0.0.1:${remote2}`),
      "the server to stop listening",
    );
    const byPort = await ctl(rig, "close-tunnel-listener", `:${port}`);
    assert.equal(byPort.code, 0, byPort.stderr);
    assert.match(byPort.stdout, /^Closed tunnel listener/);
    const after = await listeners();
    assert.equal(after.length, 3);
    assert.deepEqual(await listenersOf(pid), localAddresses(after));
    const gone = await ctl(rig, "close-tunnel-listener", `:${port}`);
    assert.equal(gone.code, 1);
    assert.equal(gone.stderr, `warren: No tunnel listener :${port}\n`);
  });

  await t.step("close-connection: the TCP connection goes, the listeners stay", async () => {
    const lab = (await connections()).find((c) => c.profile === "lab")!;
    const r = await ctl(rig, "close-connection", String(lab.id));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^Closed connection ${lab.id} `));
    await eventually(async () => (await sshConnectionsOf(rig, pid)).length === 1, "ss: one left");
    assert.deepEqual((await connections()).map((c) => c.profile), ["always"]);
    assert.deepEqual(await listenersOf(pid), localAddresses(await listeners()));
    const h = await curl([`http://127.0.0.1:${web}/hello`]);
    assert.equal(h.stdout, "hello from origin\n", "the next client reconnects");
    const none = await ctl(rig, "close-connection", "999");
    assert.equal(none.code, 1);
    assert.equal(none.stderr, "warren: No connection 999\n");
  });

  await t.step("stop", async () => {
    const r = await ctl(rig, "stop");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `Broker (pid ${pid}) is stopping\n`);
    assert.equal(await broker.exit(), 0, broker.stderr);
    assert.deepEqual(await listenersOf(pid), new Set());
    await assert.rejects(Deno.stat(rig.socket), Deno.errors.NotFound);
  });
});
