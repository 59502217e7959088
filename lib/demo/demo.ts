/**
 * `deno task demo`: warren at both ends of a tunnel, on this machine, with
 * nothing else installed (no sshd, no ssh, no curl).
 *
 * 1. a temporary directory with a client key pair and an authorized_keys;
 * 2. a small HTTP origin on 127.0.0.1;
 * 3. `warren serve` on 127.0.0.1 (port picked by the OS), which generates its
 *    host key on first run in the temporary $XDG_CONFIG_HOME;
 * 4. a known_hosts entry for it, so the client checks the host key strictly;
 * 5. the warren client with a local tunnel to the origin and a SOCKS/HTTP
 *    proxy tunnel;
 * 6. a fetch through each (the proxy as SOCKS5 and as an HTTP proxy), each
 *    checked: right body, and warren serve logged the channel;
 * 7. both stopped with SIGTERM (each must exit 0), the directory removed.
 *
 * Prints each step; exits 0 on success, 1 with the reason and both logs.
 *
 * `--binary PATH` runs a compiled warren instead of main.ts (the release
 * workflow's smoke test). Windows has no SIGTERM to send: there both are
 * ended with TerminateProcess in step 7, and their exit status is not checked.
 */
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { generateEd25519 } from "../server/keygen.ts";
import { WarrenProcess } from "./child.ts";

const say = (line: string) => console.log(line);

async function fetchText(url: string, proxy?: string): Promise<{ status: number; body: string }> {
  const client = proxy ? Deno.createHttpClient({ proxy: { url: proxy } }) : undefined;
  try {
    const res = await fetch(url, { client, signal: AbortSignal.timeout(20_000) });
    return { status: res.status, body: await res.text() };
  } finally {
    client?.close();
  }
}

function startOrigin(): { port: number; requests: () => number; server: Deno.HttpServer } {
  let count = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    count++;
    return new Response(`hello from the demo origin (request ${count})\n`);
  });
  return { port: server.addr.port, requests: () => count, server };
}

async function expectBody(what: string, url: string, proxy: string | undefined, n: number) {
  const r = await fetchText(url, proxy);
  const want = `hello from the demo origin (request ${n})\n`;
  if (r.status !== 200 || r.body !== want) {
    throw new Error(
      `${what}: got ${r.status} ${JSON.stringify(r.body)}, expected 200 ${JSON.stringify(want)}`,
    );
  }
  say(`   ${r.status} ${r.body.trim()}`);
}

async function demo(dir: string, procs: WarrenProcess[], binary?: string): Promise<void> {
  say(`1. Working in ${dir}`);
  const pair = generateEd25519("warren-demo-client");
  const key = join(dir, "id_ed25519");
  await Deno.writeTextFile(key, pair.private, { mode: 0o600 });
  const authorizedKeys = join(dir, "authorized_keys");
  await Deno.writeTextFile(authorizedKeys, `${pair.public}\n`);
  say(`   client key ${key}, its public key in ${authorizedKeys}`);

  const origin = startOrigin();
  try {
    say(`2. HTTP origin on 127.0.0.1:${origin.port}`);

    const serveArgs = ["serve", "--listen", "127.0.0.1:0", "--authorized-keys", authorizedKeys];
    say(`3. warren ${serveArgs.join(" ")}`);
    // The host key's default place: $XDG_CONFIG_HOME/warren, %APPDATA%\warren on Windows.
    const config = join(dir, "config");
    const server = new WarrenProcess("warren serve", serveArgs, {
      XDG_CONFIG_HOME: config,
      APPDATA: config,
    }, binary);
    procs.push(server);
    const port = Number((await server.waitFor(/Listening on 127\.0\.0\.1:(\d+)/))[1]);
    const fingerprint = (await server.waitFor(/Host key \S+ (SHA256:\S+)/))[1];
    say(`   listening on 127.0.0.1:${port}; new host key ${fingerprint}`);

    const hostPub = (await Deno.readTextFile(join(config, "warren", "host_ed25519_key.pub")))
      .trim().split(" ");
    const knownHosts = join(dir, "known_hosts");
    await Deno.writeTextFile(knownHosts, `[127.0.0.1]:${port} ${hostPub[0]} ${hostPub[1]}\n`);
    say(`4. known_hosts entry for [127.0.0.1]:${port} in ${knownHosts}`);

    const clientArgs = [
      ...["-L", `127.0.0.1:0:127.0.0.1:${origin.port}`, "-L", "socks/127.0.0.1:0"],
      ...["-i", key, "-o", `UserKnownHostsFile=${knownHosts}`, "--hostkey-policy=strict", "-B"],
      `demo@127.0.0.1#${port}`,
    ];
    say(`5. warren ${clientArgs.join(" ")}`);
    const client = new WarrenProcess("warren client", clientArgs, { SSH_AUTH_SOCK: "" }, binary);
    procs.push(client);
    const local = Number((await client.waitFor(/Local tunnel -L 127\.0\.0\.1:(\d+)/))[1]);
    const proxy = Number((await client.waitFor(/Proxy tunnel -L socks\/127\.0\.0\.1:(\d+)/))[1]);
    say(
      `   local tunnel 127.0.0.1:${local} -> 127.0.0.1:${origin.port}; SOCKS/HTTP proxy 127.0.0.1:${proxy}`,
    );

    const target = `http://127.0.0.1:${origin.port}/`;
    say(`6. GET http://127.0.0.1:${local}/ (the local tunnel)`);
    await expectBody("local tunnel", `http://127.0.0.1:${local}/`, undefined, 1);
    say(`   GET ${target} through socks5h://127.0.0.1:${proxy}`);
    await expectBody("SOCKS5", target, `socks5h://127.0.0.1:${proxy}`, 2);
    say(`   GET ${target} through http://127.0.0.1:${proxy} (the same port as an HTTP proxy)`);
    await expectBody("HTTP proxy", target, `http://127.0.0.1:${proxy}`, 3);
    const channels = server.output.match(/direct-tcpip \S+ -> 127\.0\.0\.1:\d+/g) ?? [];
    if (channels.length < 3) {
      throw new Error(`warren serve logged ${channels.length} direct-tcpip channel(s), expected 3`);
    }
    say(`   warren serve carried all three: ${channels.length} direct-tcpip channels in its log`);

    const clientCode = await client.stop();
    const serverCode = await server.stop();
    if (Deno.build.os === "windows") {
      say("7. Ended the client and the server (Windows has no SIGTERM; exit status not checked)");
    } else if (clientCode !== 0 || serverCode !== 0) {
      throw new Error(`exit codes: client ${clientCode}, server ${serverCode} (expected 0 and 0)`);
    } else {
      say("7. Stopped the client and the server with SIGTERM: both exited 0");
    }
    say("\nwarren serve's log:");
    for (const line of server.output.trimEnd().split("\n")) say(`   ${line}`);
  } finally {
    await origin.server.shutdown();
  }
}

async function main(args: string[]): Promise<number> {
  let binary: string | undefined;
  try {
    const { values } = parseArgs({ args, options: { binary: { type: "string" } }, strict: true });
    binary = values.binary === undefined ? undefined : resolve(values.binary);
  } catch (err) {
    console.error(`demo: ${err instanceof Error ? err.message : err} (usage: [--binary PATH])`);
    return 2;
  }
  say("warren demo: both ends of an SSH tunnel on this machine, nothing else needed");
  say(`${binary ? `the binary ${binary}` : "main.ts from source"}\n`);
  const dir = await Deno.makeTempDir({ prefix: "warren-demo-" });
  const procs: WarrenProcess[] = [];
  let code = 0;
  try {
    await demo(dir, procs, binary);
  } catch (err) {
    console.error(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}`);
    for (const p of procs) {
      await p[Symbol.asyncDispose]();
      console.error(`--- ${p.name} log ---\n${p.output.trimEnd()}`);
    }
    code = 1;
  } finally {
    for (const p of procs) await p[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  }
  if (code === 0) say(`\nRemoved ${dir}. Done.`);
  return code;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
