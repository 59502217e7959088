/**
 * A chain of OpenSSH sshd instances, each in a network namespace of its own,
 * where only the previous one reaches the next:
 *
 *   host ──veth── ns 1 (sshd 1) ──veth── ns 2 (sshd 2) ──veth── ns 3 (sshd 3)
 *
 * The host reaches sshd 1 on its veth address; sshd k+1 listens on its end
 * of the link from namespace k, which nothing else can route to. An origin
 * server (tests/_harness/origin.ts) runs on the last namespace's loopback,
 * serving `dir/files/` at /files/, so only a tunnel through the whole chain
 * reaches it.
 *
 * `knownHosts` has every sshd's key under its own address and port; each
 * sshd's client key is in `keys` (warren tries each, in order).
 */
import { createNetnsHost, linkNetns, type NetnsHost } from "./netns.ts";
import { type Sshd, startSshd } from "./sshd.ts";
import { type Origin, startOrigin } from "./origin.ts";

export interface JumpChain extends AsyncDisposable {
  sshds: Sshd[];
  /** For each sshd after the first, the address its predecessor connects from. */
  fromAddrs: string[];
  /** origins[k]: the origin in sshds[k]'s namespace (none in the first). */
  origins: (Origin | undefined)[];
  dir: string;
  knownHosts: string;
  keys: string[];
  close(): Promise<void>;
}

export async function startJumpChain(length: number): Promise<JumpChain> {
  const cleanups: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    cleanups.length = 0;
  };
  try {
    const dir = await Deno.makeTempDir({ prefix: "warren-jumps-" });
    cleanups.push(() => Deno.remove(dir, { recursive: true }));
    await Deno.mkdir(`${dir}/files`);
    const namespaces: NetnsHost[] = [];
    const sshds: Sshd[] = [];
    const fromAddrs: string[] = [];
    for (let i = 0; i < length; i++) {
      const ns = await createNetnsHost({ isolated: i > 0 });
      cleanups.push(() => ns.close());
      let listenAddress: string | undefined;
      if (i > 0) {
        const link = await linkNetns(namespaces[i - 1], ns);
        listenAddress = link.bAddr;
        fromAddrs.push(link.aAddr);
      }
      namespaces.push(ns);
      const sshd = await startSshd({ netns: ns, listenAddress });
      cleanups.push(() => sshd.close());
      sshds.push(sshd);
    }
    const origins: (Origin | undefined)[] = [undefined];
    for (const ns of namespaces.slice(1)) {
      const origin = await startOrigin({ netns: ns, files: `${dir}/files` });
      cleanups.push(() => origin.close());
      origins.push(origin);
    }
    const knownHosts = `${dir}/known_hosts`;
    await Deno.writeTextFile(knownHosts, sshds.map((s) => s.hostKeyLine + "\n").join(""));
    return {
      sshds,
      fromAddrs,
      origins,
      dir,
      knownHosts,
      keys: sshds.map((s) => s.clientKey),
      close,
      [Symbol.asyncDispose]: close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** `user@host:port` of an sshd, as -J takes it. */
export function jumpSpec(sshd: Sshd): string {
  return `${sshd.user}@${sshd.host}:${sshd.port}`;
}

/** How many logins an sshd's log shows from `addr`. */
export async function loginsFrom(sshd: Sshd, addr: string): Promise<number> {
  const re = new RegExp(`Accepted publickey for \\S+ from ${addr.replaceAll(".", "\\.")} `, "g");
  return (await sshd.log()).match(re)?.length ?? 0;
}
