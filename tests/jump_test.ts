/**
 * -J / ProxyJump against real OpenSSH sshd instances chained through network
 * namespaces (tests/_harness/jump_chain.ts): each hop is reachable only from
 * the one before it, so a download that arrives intact went through every
 * hop. A changed host key on the middle hop is refused before any
 * authentication to it, and the error names that hop.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { runCli } from "./_harness/cli.ts";
import { isolatedEnv } from "./_harness/broker_rig.ts";
import { freePort } from "./_harness/free_port.ts";
import { jumpSpec, loginsFrom, startJumpChain } from "./_harness/jump_chain.ts";
import { patternBytes } from "./_harness/pattern.ts";
import { realPeersUnsupported } from "./_harness/real_peers.ts";
import { skipWhen } from "./_harness/skip.ts";
import type { Sshd } from "./_harness/sshd.ts";

const ignore = skipWhen("jump host tests", realPeersUnsupported("curl"));

const MiB = 1024 * 1024;

function warrenArgs(keys: string[], knownHosts: string, ...extra: string[]): string[] {
  return [
    ...keys.flatMap((k) => ["-i", k]),
    ...["-o", `UserKnownHostsFile=${knownHosts}`, "-o", "StrictHostKeyChecking=yes", "-B"],
    ...extra,
  ];
}

function target(sshd: Sshd): string {
  return `${sshd.user}@${sshd.host}#${sshd.port}`;
}

/** Download /files/blob through a -L tunnel over the chain; the bytes received. */
async function download(
  args: string[],
  originPort: number,
  home: string,
): Promise<{ code: number; stderr: string; bytes?: Uint8Array }> {
  const port = freePort();
  const out = `${home}/download`;
  const r = await runCli([
    ...args.slice(0, -1),
    "-L",
    `${port}:127.0.0.1:${originPort}`,
    args.at(-1)!,
    "--",
    ...["curl", "-sS", "--max-time", "60", "-o", out, `http://127.0.0.1:${port}/files/blob`],
  ], { env: isolatedEnv(home), timeoutMs: 90_000 });
  const bytes = r.code === 0 ? await Deno.readFile(out) : undefined;
  await Deno.remove(out).catch(() => {});
  return { code: r.code, stderr: r.stderr, bytes };
}

Deno.test(
  { name: "-J through two and three hops, each reachable only from the last", ignore },
  async (t) => {
    await using chain = await startJumpChain(3);
    const [a, b, c] = chain.sshds;
    const blob = patternBytes(3 * MiB, 16);
    await Deno.writeFile(`${chain.dir}/files/blob`, blob);
    const home = `${chain.dir}/home`;
    await Deno.mkdir(home);

    await t.step("three hops: -J a,b c, the download identical", async () => {
      const r = await download(
        warrenArgs(chain.keys, chain.knownHosts, "-J", `${jumpSpec(a)},${jumpSpec(b)}`, target(c)),
        chain.origins[2]!.httpPort,
        home,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.bytes!.length, blob.length);
      assert.ok(Buffer.compare(r.bytes!, blob) === 0, "the bytes differ");
      assert.equal(await loginsFrom(a, a.netns.hostAddr), 1);
      assert.equal(await loginsFrom(b, chain.fromAddrs[0]), 1, "b was reached from a");
      assert.equal(await loginsFrom(c, chain.fromAddrs[1]), 1, "c was reached from b");
      assert.match(await b.log(), /userauth-request/, "sshd logs authentication (checked below)");
    });

    await t.step(
      "two hops: -o ProxyJump=a (sshg3's #port) to b, the download identical",
      async () => {
        const r = await download(
          warrenArgs(
            chain.keys,
            chain.knownHosts,
            "-o",
            `ProxyJump=${a.user}@${a.host}#${a.port}`,
            target(b),
          ),
          chain.origins[1]!.httpPort,
          home,
        );
        assert.equal(r.code, 0, r.stderr);
        assert.ok(Buffer.compare(r.bytes!, blob) === 0, "the bytes differ");
        assert.equal(await loginsFrom(a, a.netns.hostAddr), 2);
        assert.equal(await loginsFrom(b, chain.fromAddrs[0]), 2, "b was reached from a again");
        assert.equal(await loginsFrom(c, chain.fromAddrs[1]), 1, "c was left alone");
      },
    );

    await t.step(
      "a changed host key on the middle hop: refused before authenticating to it",
      async () => {
        const wrong = `${chain.dir}/known_hosts_changed`;
        const bKeyOfC = `[${b.host}]:${b.port} ${c.hostKeyLine.split(" ").slice(1).join(" ")}`;
        await Deno.writeTextFile(wrong, [a.hostKeyLine, bKeyOfC, c.hostKeyLine, ""].join("\n"));
        const bLogBefore = (await b.log()).length;
        const cLogBefore = (await c.log()).length;
        const r = await runCli(
          [
            ...warrenArgs(chain.keys, wrong, "-J", `${jumpSpec(a)},${jumpSpec(b)}`, target(c)),
            "--",
            "true",
          ],
          { env: isolatedEnv(home), timeoutMs: 60_000 },
        );
        assert.equal(r.code, 1, r.stderr);
        const first = r.stderr.split("\n")[0];
        const bAddr = `${b.host.replaceAll(".", "\\.")}:${b.port}`;
        assert.match(first, new RegExp(`^warren: Host key for ${bAddr} has changed`));
        assert.match(first, /\(jump host 2 of 2\)$/);
        const bLog = (await b.log()).slice(bLogBefore);
        assert.match(bLog, /Connection from/, "the connection did reach b");
        assert.doesNotMatch(bLog, /userauth-request/, "no authentication was tried on b");
        assert.equal((await c.log()).slice(cLogBefore), "", "c was never contacted");
      },
    );

    await t.step("an unreachable middle hop is named", async () => {
      const r = await runCli(
        [...warrenArgs(
          chain.keys,
          chain.knownHosts,
          "-J",
          `${jumpSpec(a)},${b.host}:1`,
          target(c),
        )],
        { env: isolatedEnv(home), timeoutMs: 60_000 },
      );
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `^warren: Cannot reach ${
            b.host.replaceAll(".", "\\.")
          }:1 through .*\\(jump host 2 of 2\\)\n$`,
        ),
      );
    });
  },
);
