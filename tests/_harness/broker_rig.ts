/**
 * What the broker and ctl tests share: OpenSSH sshd in a namespace with the
 * origin servers beside it, a temp dir with the broker's config and control
 * socket, `warren broker` as a live process, `warren ctl` runs, and `ss`
 * for checking what is really open.
 *
 * The sshd also listens on its namespace's loopback (`innerPort`), which
 * only a connection through sshd itself can reach: the gateway-profile
 * tests jump there.
 */
import assert from "node:assert/strict";
import { type CliResult, LiveCli, runCli } from "./cli.ts";
import { type Origin, startOrigin } from "./origin.ts";
import { type Sshd, startSshd } from "./sshd.ts";
import { run } from "./real_peers.ts";
import { freePort, randomPort } from "./free_port.ts";

export interface BrokerRig extends AsyncDisposable {
  sshd: Sshd;
  origin: Origin;
  /** sshd's second port, on the namespace's 127.0.0.1 only. */
  innerPort: number;
  dir: string;
  config: string;
  socket: string;
  /** Environment for warren runs: HOME and XDG_RUNTIME_DIR inside `dir`. */
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startBrokerRig(): Promise<BrokerRig> {
  const innerPort = randomPort();
  const sshd = await startSshd({ extraConfig: [`ListenAddress 127.0.0.1:${innerPort}`] });
  let origin: Origin | undefined;
  let dir: string | undefined;
  try {
    origin = await startOrigin({ netns: sshd.netns });
    dir = await Deno.makeTempDir({ prefix: "warren-broker-test-" });
    await Deno.mkdir(`${dir}/home/.ssh`, { recursive: true });
    await Deno.mkdir(`${dir}/run`, { mode: 0o700 });
  } catch (err) {
    await origin?.close();
    await sshd.close();
    throw err;
  }
  const d = dir;
  const o = origin;
  const close = async () => {
    await o.close();
    await sshd.close();
    await Deno.remove(d, { recursive: true }).catch(() => {});
  };
  return {
    sshd,
    origin: o,
    innerPort,
    dir: d,
    config: `${d}/ssh-broker-config.xml`,
    socket: `${d}/run/warren/broker.sock`,
    env: { ...isolatedEnv(`${d}/home`), XDG_RUNTIME_DIR: `${d}/run` },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * HOME elsewhere (and no agent, no $WARREN_CONFIG) for a warren run, keeping
 * Deno's own cache where it was: a new HOME would mean a new, empty cache.
 */
export function isolatedEnv(home: string): Record<string, string> {
  const cache = Deno.env.get("XDG_CACHE_HOME") || `${Deno.env.get("HOME")}/.cache`;
  return {
    HOME: home,
    DENO_DIR: Deno.env.get("DENO_DIR") || `${cache}/deno`,
    SSH_AUTH_SOCK: "",
    WARREN_CONFIG: "",
    WARREN_BROKER: "",
  };
}

/** `<default-settings>` for tests: strict host keys, no keepalive, short idle. */
export function defaultsXml(idleSeconds = 300): string {
  return `<default-settings>
    <idle-timeout type="connection" time="${idleSeconds}" />
    <tcp-connect-timeout time="10" />
    <keepalive-interval time="0" />
    <server-authentication-methods><auth-server-publickey policy="strict" /></server-authentication-methods>
  </default-settings>`;
}

/** A profile for the rig's sshd (attributes and children added by the caller). */
export function profileXml(
  rig: BrokerRig,
  id: string,
  options: { attrs?: string; host?: string; port?: number; inner?: string } = {},
): string {
  return `<profile id="${id}" host="${options.host ?? rig.sshd.host}" port="${
    options.port ?? rig.sshd.port
  }" user="${rig.sshd.user}" ${options.attrs ?? ""}>
      <user-identities><identity file="${rig.sshd.clientKey}" /></user-identities>
      ${options.inner ?? ""}
    </profile>`;
}

/** A whole config file. */
export function configXml(
  rig: BrokerRig,
  parts: { defaults?: string; profiles: string[]; statics?: string[]; filter?: string },
): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<secsh-broker version="1.0">
  <general><known-hosts file="${rig.sshd.knownHosts}" /></general>
  ${parts.defaults ?? defaultsXml()}
  <profiles>
    ${parts.profiles.join("\n    ")}
  </profiles>
  <static-tunnels>
    ${(parts.statics ?? []).join("\n    ")}
  </static-tunnels>
  ${parts.filter ?? ""}
</secsh-broker>
`;
}

export function staticXml(
  listenPort: number,
  dstPort: number,
  profile: string,
  type = "tcp",
): string {
  const dst = type === "socks" ? "" : ` dst-host="127.0.0.1" dst-port="${dstPort}"`;
  return `<tunnel type="${type}" listen-port="${listenPort}"${dst} profile="${profile}" />`;
}

/** Start `warren broker` on the rig's config and socket; resolves when it is ready. */
export async function startBroker(rig: BrokerRig, ...extra: string[]): Promise<LiveCli> {
  const broker = new LiveCli(
    ["broker", "--config", rig.config, "-a", rig.socket, "-v", ...extra],
    { env: rig.env },
  );
  try {
    await broker.waitFor(/Broker ready/);
  } catch (err) {
    await broker.stop("SIGKILL");
    throw err;
  }
  return broker;
}

/** `warren ctl -a SOCKET ARGS...`. */
export function ctl(rig: BrokerRig, ...args: string[]): Promise<CliResult> {
  return runCli(["ctl", "-a", rig.socket, ...args], { env: rig.env });
}

/** `warren ctl --json ...`, asserting success. */
export async function ctlJson<T>(rig: BrokerRig, ...args: string[]): Promise<T> {
  const r = await ctl(rig, "--json", ...args);
  assert.equal(r.code, 0, `ctl ${args.join(" ")}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** SSH logins sshd has accepted so far (from its log). */
export async function logins(sshd: Sshd, from?: string): Promise<number> {
  const log = await sshd.log();
  const re = new RegExp(
    `Accepted publickey for \\S+ from ${from?.replace(/\./g, "\\.") ?? "\\S+"} `,
    "g",
  );
  return [...log.matchAll(re)].length;
}

/** `ss` lines (no header), on this host or in `netns`. */
export async function ss(args: string[], netns?: Sshd["netns"]): Promise<string[]> {
  const r = await run("ss", ["-H", ...args], { netns });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split("\n").filter((l) => l.trim() !== "");
}

/** TCP ports listening on this host (from `ss -ltn`), with the address. */
export async function listening(): Promise<Set<string>> {
  const lines = await ss(["-ltn"]);
  return new Set(lines.map((l) => l.trim().split(/\s+/)[3]));
}

/** Established connections from this host to sshd (`ss -tn`). */
export async function sshConnections(sshd: Sshd): Promise<string[]> {
  return await ss(["-tn", "state", "established", "dst", `${sshd.host}:${sshd.port}`]);
}

/** Poll an async condition until it holds, or fail after `ms`. */
export async function eventually(
  cond: () => Promise<boolean>,
  what: string,
  ms = 20_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export { freePort, randomPort };
