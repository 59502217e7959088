/**
 * `warren serve` starting up, as a user runs it: refusals to start (exit 2
 * with one line saying why), the host key made on first run and reused, the
 * fingerprint it prints, a port in use (exit 1); and `deno task demo`, which
 * must exit 0.
 */
import assert from "node:assert/strict";
import { LiveCli, runCli } from "./_harness/cli.ts";
import { generateEd25519 } from "../lib/server/keygen.ts";

async function tempDir(): Promise<string & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "warren-serve-cli-" });
  return Object.assign(dir, {
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  }) as string & AsyncDisposable;
}

Deno.test("warren serve without --authorized-keys refuses to start and says why (exit 2)", async () => {
  const r = await runCli(["serve"]);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /^warren: serve: --authorized-keys FILE is required: warren serve admits only/m,
  );
  assert.doesNotMatch(r.stderr, /at \S+\.ts:\d+/, "no stack trace");
});

Deno.test("warren serve: unusable authorized_keys, permits and host keys exit 2 before listening", async () => {
  await using dir = await tempDir();
  const good = generateEd25519("ok").public;
  await Deno.writeTextFile(`${dir}/bad_keys`, `# only bad lines\nbogus ${good}\nssh-rsa AAAA\n`);
  await Deno.writeTextFile(`${dir}/ak`, `${good}\n`);
  const cases: [string[], RegExp][] = [
    [
      ["--authorized-keys", `${dir}/missing`],
      /cannot read authorized keys \S+missing: no such file/,
    ],
    [["--authorized-keys", `${dir}/bad_keys`], /bad_keys has no usable key: nobody could log in/],
    [["--authorized-keys", `${dir}/ak`, "--permit-open", "db"], /Invalid permit-open 'db'/],
    [
      ["--authorized-keys", `${dir}/ak`, "--host-key", `${dir}/nokey`],
      /Cannot read host key \S+nokey: no such file/,
    ],
    [["--authorized-keys", `${dir}/ak`, "--listen", "x:y"], /invalid --listen 'x:y'/],
  ];
  for (const [args, want] of cases) {
    const r = await runCli(["serve", ...args], { env: { XDG_CONFIG_HOME: `${dir}/cfg` } });
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, want);
    assert.doesNotMatch(r.stderr, /Listening on/);
    // The command-line hint follows mistakes on the command line, not in files.
    const inFile = /authorized keys|usable key|host key/.test(want.source);
    assert.equal(/Try 'warren --help'/.test(r.stderr), !inFile, `${args.join(" ")}: ${r.stderr}`);
  }
  const bad = await runCli(["serve", "--authorized-keys", `${dir}/bad_keys`]);
  assert.match(bad.stderr, /bad_keys:2: skipped: unknown option 'bogus'/);
  assert.match(bad.stderr, /bad_keys:3: skipped: /);
});

Deno.test("warren serve generates its host key on first run (0600), prints it, and reuses it", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir}/ak`, `${generateEd25519().public}\n`);
  const env = { XDG_CONFIG_HOME: `${dir}/cfg` };
  const args = ["serve", "--authorized-keys", `${dir}/ak`, "--listen", "127.0.0.1:0"];
  const key = `${dir}/cfg/warren/host_ed25519_key`;
  const fingerprints: string[] = [];
  for (const run of [1, 2]) {
    await using cli = new LiveCli(args, { env });
    const fp = (await cli.waitFor(/Host key ssh-ed25519 (SHA256:\S+) \((\S+)\)/))[1];
    const port = Number(
      (await cli.waitFor(/Listening on 127\.0\.0\.1:(\d+): 1 authorized key/))[1],
    );
    const probe = await Deno.connect({ hostname: "127.0.0.1", port });
    const banner = new Uint8Array(64);
    const n = await probe.read(banner);
    probe.close();
    assert.match(new TextDecoder().decode(banner.subarray(0, n!)), /^SSH-2\.0-warren_\d/);
    if (run === 1) {
      assert.match(cli.stderr, new RegExp(`Generated a new ed25519 host key: ${key} \\(mode 0600`));
    } else assert.doesNotMatch(cli.stderr, /Generated/);
    fingerprints.push(fp);
    assert.equal(await cli.stop("SIGTERM"), 0, cli.stderr);
  }
  assert.equal(fingerprints[0], fingerprints[1]);
  assert.equal((await Deno.stat(key)).mode! & 0o777, 0o600);
  const keygen = await new Deno.Command("ssh-keygen", { args: ["-l", "-f", key] }).output().catch(
    () => undefined,
  );
  if (keygen?.success) {
    assert.equal(new TextDecoder().decode(keygen.stdout).split(" ")[1], fingerprints[0]);
  }
});

Deno.test("warren serve on a port in use exits 1 with one line", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir}/ak`, `${generateEd25519().public}\n`);
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const r = await runCli(
    ["serve", "--authorized-keys", `${dir}/ak`, "--listen", `127.0.0.1:${taken.addr.port}`],
    { env: { XDG_CONFIG_HOME: `${dir}/cfg` } },
  );
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    new RegExp(`Cannot listen on 127\\.0\\.0\\.1:${taken.addr.port}: address already in use`),
  );
});

Deno.test("warren --help lists serve; warren serve --help shows its options", async () => {
  const top = await runCli(["--help"]);
  assert.match(top.stdout, /warren serve --authorized-keys FILE/);
  const serve = await runCli(["serve", "--help"]);
  assert.equal(serve.code, 0);
  for (
    const opt of [
      "--authorized-keys",
      "--listen",
      "--host-key",
      "--permit-open",
      "--permit-listen",
      "--gateway-ports",
    ]
  ) {
    assert.ok(serve.stdout.includes(opt), opt);
  }
});

Deno.test("deno task demo runs warren at both ends, fetches through each tunnel and exits 0", async () => {
  const root = new URL("..", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "demo"],
    cwd: root,
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stdout + stderr);
  assert.match(stdout, /200 hello from the demo origin \(request 1\)/);
  assert.match(
    stdout,
    /through socks5h:\/\/127\.0\.0\.1:\d+\s+200 hello from the demo origin \(request 2\)/,
  );
  assert.match(stdout, /200 hello from the demo origin \(request 3\)/);
  assert.match(stdout, /both exited 0/);
  const dir = /Removed (\S+)\. Done\./.exec(stdout)?.[1];
  assert.ok(dir, stdout);
  await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
});
