/**
 * What works from source works in the binary. `deno compile` embeds the
 * module graph of main.ts (and the npm packages it reaches, whole) into a
 * virtual file system; anything else a module finds at run time by its own
 * location is missing from a release binary unless `build.json` includes it.
 * This test reads every local module of that graph (as `deno info` lists it,
 * so dev tools like lib/demo/ and lib/build/ are not in it) and fails on:
 *
 * - files found relative to the module (`import.meta.url`, `dirname`,
 *   `filename`, `resolve`), unless build.json's `include` carries them (the
 *   line then says `// embedded: PATH`);
 * - dynamic imports whose specifier is not a string literal (the compiler
 *   cannot see them);
 * - WebAssembly or data loaded from a path (`.wasm` files, streaming
 *   compilation, `new Worker`, `createRequire`), and files of the repository
 *   read by a relative path, rather than embedded through an import.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import build from "../lib/build/build.json" with { type: "json" };

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** The local modules of main.ts's graph, as paths from the root. */
async function binaryModules(): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "main.ts"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "null",
  }).output();
  assert.ok(out.success, "deno info --json main.ts failed");
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string }[];
  };
  const root = new URL("../", import.meta.url).href;
  return info.modules.map((m) => m.specifier).filter((s) => s.startsWith(root))
    .map((s) => s.slice(root.length)).sort();
}

/** The text without comments, lines kept (a line comment starts a line or follows a space). */
function code(text: string): string {
  const blank = (comment: string) => comment.replace(/[^\n]/g, "");
  return text.replace(/\/\*[\s\S]*?\*\//g, blank).replace(/(^|\s)\/\/.*$/gm, "$1");
}

const RULES: { pattern: RegExp; why: string }[] = [
  {
    pattern: /\bimport\.meta\.(url|dirname|filename|resolve)\b/,
    why:
      "finds a file by the module's own location (not in a binary unless build.json includes it)",
  },
  {
    pattern: /\bimport\(\s*(?!["'][^"'`$]*["']\s*[,)])/,
    why: "dynamic import of a computed specifier (deno compile cannot see it)",
  },
  { pattern: /["'`][^"'`\n]*\.wasm["'`]/, why: "loads WebAssembly from a file" },
  {
    pattern: /\bWebAssembly\.(compileStreaming|instantiateStreaming)\b/,
    why: "fetches WebAssembly at run time",
  },
  { pattern: /\bnew\s+Worker\(/, why: "starts a worker from a module file" },
  { pattern: /\bcreateRequire\(/, why: "requires by a computed path" },
  {
    pattern:
      /(\bDeno\.(readTextFile|readFile|open)(Sync)?|\breadFile(Sync)?)\(\s*["'`](?![/\\]|[A-Za-z]:)/,
    why: "reads a file of the repository by a relative path",
  },
];

/**
 * "path:line: why" for each rule a module breaks. A line that finds a file
 * build.json includes says so in a comment, `embedded: PATH`, and passes.
 */
export function embedProblems(
  path: string,
  text: string,
  include: readonly string[] = build.include,
): string[] {
  const out: string[] = [];
  const raw = text.split("\n");
  for (const [i, line] of code(text).split("\n").entries()) {
    const embedded = /\bembedded: (\S+)/.exec(raw[i]);
    if (embedded && include.includes(embedded[1])) continue;
    for (const rule of RULES) {
      if (rule.pattern.test(line)) out.push(`${path}:${i + 1}: ${rule.why}`);
    }
  }
  return out;
}

Deno.test("embed: no module of the binary needs a file the binary would not have", async () => {
  const modules = await binaryModules();
  assert.ok(modules.includes("main.ts") && modules.includes("lib/permissions.ts"), "graph");
  assert.ok(!modules.some((m) => m.includes("_test.ts") || m.startsWith("tests/")), "tests");
  const problems: string[] = [];
  for (const path of modules) {
    if (!/\.[cm]?[jt]sx?$/.test(path)) continue; // JSON imports are embedded as modules
    problems.push(...embedProblems(path, await Deno.readTextFile(`${ROOT}${path}`)));
  }
  assert.deepEqual(problems, []);
});

Deno.test("embed: the check sees each kind of problem, and passes embedded forms", () => {
  const bad = [
    'const f = new URL("./data.txt", import.meta.url);',
    "const d = import.meta.dirname;",
    "const m = await import(name);",
    "const m = await import(`./${name}.ts`);",
    'const w = await WebAssembly.instantiate(await Deno.readFile("x.wasm"));',
    "WebAssembly.instantiateStreaming(fetch(url));",
    'new Worker(new URL("w.ts", base));',
    "const require = createRequire(base);",
    'const t = await Deno.readTextFile("config/ssh-broker-config.xml");',
    'const t = readFileSync("./lib/data.bin");',
  ];
  for (const line of bad) assert.ok(embedProblems("x.ts", line).length > 0, line);
  const good = [
    'import data from "./data.json" with { type: "json" };',
    'const m = await import("./lazy.ts");',
    'const m = await import("npm:ssh2@1.17.0", { with: {} });',
    "const t = await Deno.readTextFile(path);",
    'const t = await Deno.readTextFile("/etc/hosts");',
    "// new URL('./x', import.meta.url) in a comment",
    "if (import.meta.main) main();",
    "const bytes = WebAssembly.instantiate(EMBEDDED);",
    'const z = zlibStreams.open("deflate");',
  ];
  for (const line of good) assert.deepEqual(embedProblems("x.ts", line), [], line);
  const marked = 'const f = new URL("./data.txt", import.meta.url); // embedded: lib/x/data.txt';
  assert.deepEqual(embedProblems("lib/x/m.ts", marked, ["lib/x/data.txt"]), []);
  assert.equal(
    embedProblems("lib/x/m.ts", marked, []).length,
    1,
    "a marker for a file not included",
  );
});
