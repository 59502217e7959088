/**
 * Black-box tests of `warren config check` and `warren config dump`: spawned
 * as a user runs them, exit code, stdout and stderr checked.
 */
import assert from "node:assert/strict";
import { runCli } from "./_harness/cli.ts";
import { parseBrokerConfig } from "../lib/config/tectia/load.ts";

const EXAMPLE = new URL("../config/ssh-broker-config.xml", import.meta.url).pathname;

async function tempHome(files: Record<string, string> = {}): Promise<string> {
  const home = await Deno.makeTempDir({ prefix: "warren-config-cli-" });
  for (const [name, text] of Object.entries(files)) {
    const path = `${home}/${name}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(path, text);
  }
  return home;
}

// A run gets its own HOME; Deno's cache must stay where it is (it follows HOME).
const info = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
const DENO_DIR: string = JSON.parse(new TextDecoder().decode(info.stdout)).denoDir;

/** The environment of a run: its own HOME and user, no WARREN_CONFIG from the caller. */
const envFor = (home: string, extra: Record<string, string> = {}) => ({
  DENO_DIR,
  HOME: home,
  USER: "ann",
  WARREN_CONFIG: "",
  ...extra,
});

function oneLine(stderr: string): string {
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  assert.ok(!/\bat .*\.ts:\d+/.test(stderr), `stack trace in:\n${stderr}`);
  return lines[0];
}

Deno.test("warren config check accepts the example config: exit 0, a summary, no warnings", async () => {
  const home = await tempHome({
    ".ssh/id_ed25519": "key",
    ".ssh/db.internal.pub": "ssh-ed25519 AAAA",
    ".config/warren/db.password": "pw",
  });
  try {
    const r = await runCli(["config", "check", EXAMPLE], { env: envFor(home) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.equal(
      r.stdout,
      `${EXAMPLE}: OK: 2 profiles, 2 profile tunnels, 3 static tunnels\n`,
    );
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("warren config check warns about key and password files that are not there", async () => {
  const home = await tempHome({ ".ssh/id_ed25519": "key" });
  try {
    const r = await runCli(["config", "check", EXAMPLE], { env: envFor(home) });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /: OK: 2 profiles/);
    // The db profile's position, from the file as it is now.
    const lines = (await Deno.readTextFile(EXAMPLE)).split("\n");
    const line = lines.findIndex((l) => l.includes('<profile id="db"')) + 1;
    const col = lines[line - 1].indexOf("<") + 1;
    assert.deepEqual(r.stderr.trim().split("\n"), [
      `warren: warning: ${EXAMPLE}:${line}:${col}: profile 'db': host key file ${home}/.ssh/db.internal.pub does not exist`,
      `warren: warning: ${EXAMPLE}:${line}:${col}: profile 'db': password file ${home}/.config/warren/db.password does not exist`,
    ]);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("warren config check without FILE reads $WARREN_CONFIG, else ~/.ssh2/ssh-broker-config.xml", async () => {
  const good = '<secsh-broker><profiles><profile id="p" host="h"/></profiles></secsh-broker>';
  const home = await tempHome({
    ".ssh2/ssh-broker-config.xml": good,
    "other.xml": "<secsh-broker/>",
  });
  try {
    const byHome = await runCli(["config", "check"], { env: envFor(home) });
    assert.equal(byHome.code, 0, byHome.stderr);
    assert.equal(
      byHome.stdout,
      `${home}/.ssh2/ssh-broker-config.xml: OK: 1 profile, 0 profile tunnels, 0 static tunnels\n`,
    );
    const byEnv = await runCli(["config", "check"], {
      env: envFor(home, { WARREN_CONFIG: `${home}/other.xml` }),
    });
    assert.equal(byEnv.code, 0, byEnv.stderr);
    assert.match(byEnv.stdout, /other\.xml: OK: 0 profiles/);
    const byFlag = await runCli(["config", "check", "--config", `${home}/other.xml`], {
      env: envFor(home),
    });
    assert.match(byFlag.stdout, /other\.xml: OK: 0 profiles/);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("warren config check: a mistake is one line FILE:LINE:COL: message and exit 2", async () => {
  const home = await tempHome({
    "bad.xml": [
      "<secsh-broker>",
      "  <profiles>",
      '    <profile id="a" host="h" gateway-profile="b"/>',
      '    <profile id="b" host="h" gateway-profile="a"/>',
      "  </profiles>",
      "</secsh-broker>",
    ].join("\n"),
    "malformed.xml": "<secsh-broker>\n  <profiles>\n  </profile>\n</secsh-broker>",
  });
  try {
    const bad = await runCli(["config", "check", `${home}/bad.xml`], { env: envFor(home) });
    assert.equal(bad.code, 2);
    assert.equal(bad.stdout, "");
    assert.equal(
      oneLine(bad.stderr),
      `warren: ${home}/bad.xml:3:30: gateway-profile cycle: a -> b -> a`,
    );
    const malformed = await runCli(["config", "dump", `${home}/malformed.xml`], {
      env: envFor(home),
    });
    assert.equal(malformed.code, 2);
    assert.equal(malformed.stdout, "");
    assert.match(
      oneLine(malformed.stderr),
      new RegExp(`^warren: ${home}/malformed\\.xml:3:3: malformed XML: `),
    );
    // The same one line where the broker and `warren PROFILE` read the file.
    for (const args of [["broker", "--config"], ["-L", "1234:db:5432", "--config"]]) {
      const r = await runCli([...args, `${home}/bad.xml`, ...(args[0] === "-L" ? ["a"] : [])], {
        env: envFor(home),
      });
      assert.equal(r.code, 2, args.join(" "));
      assert.equal(
        oneLine(r.stderr),
        `warren: ${home}/bad.xml:3:30: gateway-profile cycle: a -> b -> a`,
      );
    }
    const missing = await runCli(["config", "check", `${home}/none.xml`], { env: envFor(home) });
    assert.equal(missing.code, 2);
    assert.equal(
      oneLine(missing.stderr),
      `warren: Cannot read config file ${home}/none.xml: no such file`,
    );
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("warren config check names an ignored Tectia element on stderr and still exits 0", async () => {
  const home = await tempHome({ "c.xml": "<secsh-broker>\n  <gui/>\n</secsh-broker>\n" });
  try {
    const r = await runCli(["config", "check", `${home}/c.xml`], { env: envFor(home) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      oneLine(r.stderr),
      `warren: warning: ${home}/c.xml:2:3: <gui> is not supported by warren: warren has no GUI (ignored)`,
    );
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("warren config dump prints the effective config, which reads back to the same dump", async () => {
  const home = await tempHome();
  try {
    const r = await runCli(["config", "dump", EXAMPLE], { env: envFor(home, { DB_USER: "dba" }) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    const config = parseBrokerConfig(r.stdout, "dump.xml", (n) => envFor(home)[n as "HOME"]);
    const db = config.profiles.find((p) => p.id === "db")!;
    assert.equal(db.settings.user, "dba"); // ${DB_USER:-postgres}, expanded
    assert.equal(config.defaults.user, "ann"); // %USERNAME%
    await Deno.writeTextFile(`${home}/dump.xml`, r.stdout);
    const again = await runCli(["config", "dump", `${home}/dump.xml`], { env: envFor(home) });
    assert.equal(again.code, 0, again.stderr);
    const body = (s: string) =>
      s.split("\n").filter((l) => !l.startsWith("<!-- warren config dump"));
    assert.deepEqual(body(again.stdout), body(r.stdout));
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("warren config: a missing or unknown action, or FILE and --config together, is a usage error", async () => {
  for (
    const args of [["config"], ["config", "lint"], [
      "config",
      "check",
      "a.xml",
      "--config",
      "b.xml",
    ]]
  ) {
    const r = await runCli(args);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.stderr, /^warren: config/, r.stderr);
  }
  const help = await runCli(["config", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /warren config check \[FILE\]/);
  const top = await runCli(["--help"]);
  assert.match(top.stdout, /warren config check\|dump \[FILE\]/);
});
