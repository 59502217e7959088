/**
 * The permission-scoped run, as a user runs it: main.ts under `deno run` with
 * exactly the binary's permission flags, plus a probe preloaded from the test
 * harness (tests/_harness/permission_probe.ts) that tries, on SIGUSR2, to
 * start a process, write a file, read the environment and use FFI from inside
 * the running warren.
 *
 * - A plain -L run, once up, can do none of them, and still tunnels.
 * - A run with a PidFile and a command after `--` keeps write (the PidFile is
 *   removed at exit) and can still stop its command; run is gone once the
 *   command has started.
 * - `warren serve`, once listening, can do none of them.
 * - `-v` says what was kept and why at each stage.
 * - `-P extprog://` and `-P env://` still log in (run and env are kept until
 *   then).
 * The other modes that need a permission (tofu, -f, the agent,
 * --save-hostkey, serve's first-run host key) are the CLI tests' own cases,
 * which run with the same scoping.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { LiveProc } from "./_harness/live_proc.ts";
import { runCli } from "./_harness/cli.ts";
import { startTestServer, type TestServer } from "./_harness/ssh_server.ts";
import { freePort } from "./_harness/free_port.ts";
import { RUN_FLAGS } from "../lib/permissions.ts";
import { generateEd25519 } from "../lib/server/keygen.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const PROBE = new URL("./_harness/permission_probe.ts", import.meta.url).pathname;
const unix = Deno.build.os !== "windows";
/** A command that waits, holding none of warren's output pipes (a failed test ends at once). */
const QUIET_SLEEP = "exec sleep 60 >/dev/null 2>&1";

/** `main` (warren unless told) with the binary's permissions and the probe, its file in `dir`. */
function probedWarren(
  dir: string,
  args: string[],
  env: Record<string, string> = {},
  main = MAIN,
): LiveProc & { probeFile: string } {
  const probeFile = join(dir, "probe-was-here");
  const proc = new LiveProc(
    new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", ...RUN_FLAGS, "--preload", PROBE, main, ...args],
      env: { NO_COLOR: "1", SSH_AUTH_SOCK: "", WARREN_PROBE_FILE: probeFile, ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }),
  );
  return Object.assign(proc, { probeFile });
}

/** Signal the probe and return what it found, as { run: "denied", ... }. */
async function probe(proc: LiveProc): Promise<Record<string, string>> {
  const before = (proc.stderr.match(/^probe: /gm) ?? []).length;
  proc.child.kill("SIGUSR2");
  const all = new RegExp(`(?:^probe: .*\\n[^]*){${before + 1}}`, "m");
  await proc.waitFor(all);
  const line = [...proc.stderr.matchAll(/^probe: (.*)$/gm)][before][1];
  return Object.fromEntries(line.split(" ").map((kv) => kv.split("=")));
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

function clientArgs(server: TestServer, ...extra: string[]): string[] {
  return [
    "-v",
    ...["-i", server.clientKey, "-o", `UserKnownHostsFile=${server.knownHosts}`],
    ...["--hostkey-policy=strict", "-p", `${server.port}`, ...extra],
  ];
}

Deno.test({
  name: "permissions: a plain -L run, once up, cannot start a process or write a file",
  ignore: !unix,
  fn: async () => {
    await using server = await startTestServer();
    await using web = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => new Response("through\n"),
    );
    const port = freePort();
    await using warren = probedWarren(
      server.dir,
      clientArgs(server, "-L", `${port}:127.0.0.1:${web.addr.port}`, "127.0.0.1"),
    );
    await warren.waitFor(/Permissions once up: .*\n/);
    assert.match(
      warren.stderr,
      /Permissions before connecting: kept none; dropped run \(nothing left to start\), write \(nothing left to write\), env \(nothing reads it any more\), ffi \((loaded|libcrypto not used)[^)]*\)/,
    );
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(await res.text(), "through\n");
    assert.deepEqual(await probe(warren), {
      run: "denied",
      write: "denied",
      env: "denied",
      ffi: "denied",
    });
    assert.equal(await exists(warren.probeFile), false);
    // Still tunnelling after the probe, and a clean stop.
    const again = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(await again.text(), "through\n");
    assert.equal(await warren.stop("SIGTERM"), 0, warren.stderr);
  },
});

Deno.test({
  name: "permissions: a PidFile keeps write until exit; the -- command is started and stopped",
  ignore: !unix,
  fn: async () => {
    await using server = await startTestServer();
    const pidFile = join(server.dir, "warren.pid");
    await using warren = probedWarren(
      server.dir,
      clientArgs(server, "-o", `PidFile=${pidFile}`, "127.0.0.1", "--", "sh", "-c", QUIET_SLEEP),
    );
    await warren.waitFor(/Permissions once up: .*\n/);
    assert.match(
      warren.stderr,
      /Permissions before connecting: kept run \(the command after --: sh\), write \(PidFile [^)]*warren\.pid\); dropped env/,
    );
    assert.match(
      warren.stderr,
      /Permissions once up: kept write \(PidFile \S+, removed at exit\); dropped run/,
    );
    assert.equal((await Deno.readTextFile(pidFile)).trim(), `${warren.child.pid}`);
    const seen = await probe(warren);
    assert.deepEqual(seen, { run: "denied", write: "allowed", env: "denied", ffi: "denied" });
    // SIGTERM passes on to the command (128 + 15), and the PidFile goes.
    assert.equal(await warren.stop("SIGTERM"), 143, warren.stderr);
    assert.equal(await exists(pidFile), false);
  },
});

Deno.test("permissions: -P extprog:// and -P env:// still log in", async () => {
  // The server takes the password only: exit 0 means the password got through.
  await using server = await startTestServer({ password: "s3cret", acceptKey: false });
  const args = (source: string) => [
    "-v",
    ...["-o", `UserKnownHostsFile=${server.knownHosts}`, "--hostkey-policy=strict", "-B"],
    ...["-p", `${server.port}`, "-P", source, "127.0.0.1", "--", "true"],
  ];
  const prog = await runCli(args("extprog://printf 's3cret\\n'"));
  assert.equal(prog.code, 0, prog.stderr);
  assert.match(
    prog.stderr,
    /kept run \(the command after --: true; -P extprog:\/\/ password program\)/,
  );
  const env = await runCli(args("env://WARREN_TEST_PW"), { env: { WARREN_TEST_PW: "s3cret" } });
  assert.equal(env.code, 0, env.stderr);
  assert.match(
    env.stderr,
    /Permissions before connecting: kept run \([^)]*\), env \(-P env:\/\/WARREN_TEST_PW\)/,
  );
  assert.match(env.stderr, /Permissions once up: kept none; dropped run [^;]*env/);
});

Deno.test({
  name: "permissions: warren serve, once listening, cannot start a process or write a file",
  ignore: !unix,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "warren-perm-" });
    try {
      const client = generateEd25519();
      await Deno.writeTextFile(join(dir, "authorized_keys"), `${client.public}\n`);
      const args = ["serve", "-v", "--listen", "127.0.0.1:0"];
      args.push("--authorized-keys", join(dir, "authorized_keys"));
      // First run: serve generates its host key under $XDG_CONFIG_HOME.
      await using serve = probedWarren(dir, args, { XDG_CONFIG_HOME: join(dir, "config") });
      await serve.waitFor(/Permissions once listening: .*\n/);
      assert.match(
        serve.stderr,
        /Permissions before starting: kept write \(the host key, generated on first run\), env \(the host key's default path .*\); dropped run/,
      );
      assert.ok(await exists(join(dir, "config/warren/host_ed25519_key")), "host key written");
      assert.deepEqual(await probe(serve), {
        run: "denied",
        write: "denied",
        env: "denied",
        ffi: "denied",
      });
      assert.equal(await serve.stop("SIGTERM"), 0, serve.stderr);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "permissions: the probe sees the permissions that are there",
  ignore: !unix,
  fn: async () => {
    // The same flags and probe around a program that drops nothing: the probe
    // must find run, write and env (ffi is one of the binary's flags too), or
    // the checks above would pass for a probe that cannot see anything.
    const dir = await Deno.makeTempDir({ prefix: "warren-perm-" });
    try {
      const idle = join(dir, "idle.ts");
      await Deno.writeTextFile(
        idle,
        'console.error("idle"); setTimeout(() => {}, 60_000);\n',
      );
      await using proc = probedWarren(dir, [], {}, idle);
      await proc.waitFor(/^idle$/m);
      assert.deepEqual(await probe(proc), {
        run: "allowed",
        write: "allowed",
        env: "allowed",
        ffi: "allowed",
      });
      assert.ok(await exists(proc.probeFile));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
