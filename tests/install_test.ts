/**
 * The README's two ways to install, run as a user runs them.
 *
 * - `deno task install` puts a `warren` command into Deno's install root
 *   (here a temporary one, DENO_INSTALL_ROOT); that command has exactly the
 *   binary's permission flags and runs from any directory, where relative
 *   paths are the user's own.
 * - The release download lines: one per target of build.json, each checking
 *   SHA256SUMS. The Linux x86_64 line runs here against a release served on
 *   127.0.0.1 (a stand-in binary, and SHA256SUMS written by the build's own
 *   code): it installs a file that matches and refuses one that does not.
 *   The other lines are the same shape for other machines (not run here).
 */
import assert from "node:assert/strict";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PERMISSION_FLAGS, V8_FLAGS } from "../lib/permissions.ts";
import { VERSION } from "../lib/version.ts";
import build from "../lib/build/build.json" with { type: "json" };
import { binaryName, checksums } from "../lib/build/compile.ts";
import { skipWhen } from "./_harness/skip.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const decoder = new TextDecoder();

async function run(cmd: string, args: string[], cwd: string, env: Record<string, string>) {
  const out = await new Deno.Command(cmd, { args, cwd, env, stdin: "null" }).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

Deno.test("deno task install: a warren command with the binary's permissions, run from elsewhere", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "warren-install-" });
  try {
    const root = join(tmp, "root");
    // The shim calls `deno` by name, as it will on the user's PATH.
    const env = {
      DENO_INSTALL_ROOT: root,
      NO_COLOR: "1",
      PATH: `${dirname(Deno.execPath())}${delimiter}${Deno.env.get("PATH") ?? ""}`,
    };
    const install = await run(Deno.execPath(), ["task", "install"], ROOT, env);
    assert.equal(install.code, 0, install.stderr);
    const windows = Deno.build.os === "windows";
    const bin = join(root, "bin", windows ? "warren.cmd" : "warren");

    if (!windows) {
      const shim = await Deno.readTextFile(bin);
      const line = shim.split("\n").find((l) => l.startsWith("exec deno run ")) ?? "";
      const flags = line.split(" ").filter((w) => w.startsWith("--allow-") || w === "-A");
      assert.deepEqual(flags.sort(), [...PERMISSION_FLAGS].sort(), shim);
      assert.ok(line.includes(` --v8-flags=${V8_FLAGS.join(",")} `), shim);
      assert.match(line, /--no-prompt/);
    }

    // Another directory, with a file named relative to it.
    const elsewhere = join(tmp, "elsewhere");
    await Deno.mkdir(elsewhere);
    await Deno.copyFile(join(ROOT, "config/ssh-broker-config.xml"), join(elsewhere, "mine.xml"));
    const v = await run(bin, ["-V"], elsewhere, env);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, new RegExp(`^warren ${VERSION.replaceAll(".", "\\.")} \\(deno `));
    assert.match(v.stdout, /, source\)\n$/);
    const check = await run(bin, ["config", "check", "mine.xml"], elsewhere, env);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /^mine\.xml: OK: /);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

/** The README's download line for a target (the line after its "# ..." comment). */
async function readmeLines(): Promise<string[]> {
  const readme = await Deno.readTextFile(join(ROOT, "README.md"));
  const section = readme.slice(
    readme.indexOf("### A release binary"),
    readme.indexOf("### From source"),
  );
  return section.split("\n").filter((l) => /\$R\/SHA256SUMS/.test(l));
}

Deno.test("README: one download line per release target, each checking SHA256SUMS", async () => {
  const lines = await readmeLines();
  assert.equal(lines.length, build.targets.length, lines.join("\n"));
  for (const { target } of build.targets) {
    const name = binaryName(target);
    const line = lines.find((l) => l.includes(`$R/${name}"`));
    assert.ok(line, `no download line for ${name}`);
    assert.ok(line.includes(`' ${name}$'`), `${name}: checks the wrong SHA256SUMS line`);
    assert.match(line, /sha256sum -c|shasum -a 256 -c|Get-FileHash/, line);
  }
});

const tools = ["bash", "curl", "sha256sum", "install", "grep"];
const missing = async () => {
  for (const tool of tools) {
    const found = await new Deno.Command("sh", {
      args: ["-c", `command -v ${tool}`],
      stdout: "null",
    })
      .output().then((o) => o.success, () => false);
    if (!found) return `${tool} is not installed`;
  }
  return Deno.build.os === "linux" ? undefined : "the Linux line runs on Linux";
};

Deno.test({
  name: "README: the Linux x86_64 line installs a release that matches SHA256SUMS, and no other",
  ignore: skipWhen("the README download line test", await missing()),
  fn: async () => {
    const line = (await readmeLines()).find((l) => l.includes('warren-x86_64-unknown-linux-gnu"'));
    assert.ok(line);
    const tmp = await Deno.makeTempDir({ prefix: "warren-release-" });
    try {
      const release = join(tmp, "release");
      await Deno.mkdir(release);
      const name = "warren-x86_64-unknown-linux-gnu";
      await Deno.writeTextFile(join(release, name), "#!/bin/sh\necho stand-in warren\n");
      await Deno.writeTextFile(join(release, "SHA256SUMS"), await checksums(release, [name]));
      let sums = await Deno.readTextFile(join(release, "SHA256SUMS"));
      await using server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen() {} },
        async (req) => {
          const file = new URL(req.url).pathname.split("/").pop() ?? "";
          if (file === "SHA256SUMS") return new Response(sums);
          try {
            return new Response(await Deno.readFile(join(release, file)));
          } catch {
            return new Response("not found", { status: 404 });
          }
        },
      );
      const R = `http://127.0.0.1:${server.addr.port}/download/v${VERSION}`;
      const attempt = async (dir: string) => {
        await Deno.mkdir(join(dir, "home"), { recursive: true });
        const env = { R, HOME: join(dir, "home"), PATH: Deno.env.get("PATH") ?? "" };
        return await run("bash", ["-c", line], dir, env);
      };

      const good = join(tmp, "good");
      const ok = await attempt(good);
      assert.equal(ok.code, 0, ok.stderr + ok.stdout);
      assert.match(ok.stdout, new RegExp(`^${name}: OK$`, "m"));
      const installed = join(good, "home/.local/bin/warren");
      assert.equal((await Deno.stat(installed)).mode! & 0o777, 0o755);
      const ran = await run(installed, [], good, {});
      assert.equal(ran.stdout, "stand-in warren\n");

      // A release whose file does not match its checksum installs nothing.
      sums = sums.replace(/^[0-9a-f]/, (c) => c === "0" ? "1" : "0");
      const bad = join(tmp, "bad");
      const refused = await attempt(bad);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stdout + refused.stderr, /FAILED/);
      await assert.rejects(Deno.stat(join(bad, "home/.local/bin/warren")));
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
