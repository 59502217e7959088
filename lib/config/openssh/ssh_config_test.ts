import assert from "node:assert/strict";
import { globMatch, hostMatches, loadSshConfig, splitWords } from "./ssh_config.ts";
import { ConfigError } from "../../errors.ts";

Deno.test("Host patterns: wildcards, negation, case", () => {
  assert.ok(globMatch("*.corp", "db.CORP"));
  assert.ok(globMatch("web?", "web1"));
  assert.ok(!globMatch("web?", "web12"));
  assert.ok(!globMatch("a.b", "axb"), "a dot is a dot");
  assert.ok(hostMatches(["web*", "!web-old"], "web-new"));
  assert.ok(!hostMatches(["web*", "!web-old"], "web-old"));
  assert.ok(!hostMatches(["!web-old"], "other"), "a negation alone matches nothing");
  assert.deepEqual(splitWords('a "b c" d'), ["a", "b c", "d"]);
});

Deno.test("loadSshConfig(): Include relative to ~/.ssh, globbed and sorted, inside a Host block too; Match skipped with one warning", async () => {
  const home = await Deno.makeTempDir({ prefix: "warren-ssh-config-" });
  try {
    await Deno.mkdir(`${home}/.ssh/conf.d`, { recursive: true });
    await Deno.writeTextFile(
      `${home}/.ssh/config`,
      [
        "# comment",
        "Include conf.d/*.conf",
        "Host web*  !web-old",
        "  User = deploy",
        '  ProxyCommand "nc %h %p"',
        "  Include inner.conf",
        "Match host web1",
        "  User wrong",
        "Host *",
        "  User fallback",
        "  Port=2200",
        "",
      ].join("\n"),
    );
    await Deno.writeTextFile(`${home}/.ssh/conf.d/b.conf`, "Host web1\n  Port 1002\n");
    await Deno.writeTextFile(`${home}/.ssh/conf.d/a.conf`, "Host web1\n  Port 1001\n");
    await Deno.writeTextFile(`${home}/.ssh/conf.d/a.conf.bak`, "Host *\n  Port 9\n");
    await Deno.writeTextFile(`${home}/.ssh/inner.conf`, "HostName %h.example.com\n");
    const config = await loadSshConfig(`${home}/.ssh/config`, home, true);
    const pairs = (host: string) => config.lookup(host).entries.map((e) => [e.keyword, e.value]);
    assert.deepEqual(pairs("web1"), [
      ["port", "1001"],
      ["port", "1002"],
      ["user", "deploy"],
      ["proxycommand", "nc %h %p"],
      ["hostname", "%h.example.com"],
      ["user", "fallback"],
      ["port", "2200"],
    ]);
    assert.deepEqual(pairs("web-old"), [["user", "fallback"], ["port", "2200"]]);
    const { warnings, entries } = config.lookup("web1");
    assert.deepEqual(warnings, [
      `${home}/.ssh/config:7: Match blocks are not supported: skipped`,
    ]);
    assert.equal(entries[0].file, `${home}/.ssh/conf.d/a.conf`);
    assert.equal(entries[0].line, 2);
    assert.deepEqual(config.lookup("other").warnings.length, 1);

    const missing = await loadSshConfig(`${home}/nope`, home, false);
    assert.deepEqual(missing.lookup("x").entries, []);
    await assert.rejects(loadSshConfig(`${home}/nope`, home, true), ConfigError);
    await Deno.writeTextFile(`${home}/bad`, "Host x\n  Port\n");
    await assert.rejects(loadSshConfig(`${home}/bad`, home, true), /bad:2: 'Port' has no value/);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
