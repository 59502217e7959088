/**
 * The layering of lib/ (README "Layout"), checked on every run: a module
 * imports only from its own layer or from those below, the folders of one
 * layer do not import each other, and no two modules import each other in a
 * circle. Test files follow the same rule, except that they may use the test
 * harness under tests/.
 */
import assert from "node:assert/strict";
import { dirname, join, normalize } from "node:path";

const ROOT = normalize(join(dirname(new URL(import.meta.url).pathname), ".."));

/** Lowest first. Each entry: the layer's folders (or files) under the root. */
export const LAYERS: readonly (readonly string[])[] = [
  [
    "lib/errors.ts",
    "lib/log.ts",
    "lib/version.ts",
    "lib/permissions.ts",
    "lib/build",
    "lib/net",
    "lib/protocols",
  ],
  ["lib/config"],
  ["lib/ssh"],
  ["lib/tunnel"],
  ["lib/profiles"],
  ["lib/broker", "lib/server"],
  ["lib/cli"],
  ["lib/commands", "lib/demo"],
  ["main.ts"],
];

/** Folders of one layer that may import each other (the base is a set of leaves). */
const SHARED_WITHIN = new Set([0]);

interface Place {
  layer: number;
  room: string;
}

export function placeOf(path: string): Place | undefined {
  const subject = path.replace(/_test\.ts$/, ".ts"); // a test sits with what it tests
  for (let layer = 0; layer < LAYERS.length; layer++) {
    for (const room of LAYERS[layer]) {
      if (subject === room || path.startsWith(`${room}/`)) return { layer, room };
    }
  }
  return undefined;
}

const SPECIFIER =
  /(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s*"(\.[^"]+)"|\bimport\(\s*"(\.[^"]+)"\s*\)/g;

/** The relative imports of one source text, as paths from the root. */
export function importsOf(path: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(SPECIFIER)) {
    const spec = m[1] ?? m[2];
    out.push(normalize(join(dirname(path), spec)));
  }
  return out;
}

async function sources(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(join(ROOT, dir))) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) await walk(path);
      else if (e.name.endsWith(".ts")) files.set(path, await Deno.readTextFile(join(ROOT, path)));
    }
  };
  await walk("lib");
  files.set("main.ts", await Deno.readTextFile(join(ROOT, "main.ts")));
  return files;
}

const isTest = (path: string) =>
  /_test(_[a-z_]+)?\.ts$/.test(path) || /\/_test_[a-z_]+\.ts$/.test(path);

/** Every import that breaks the layering, as "from → to: why". */
export function layerViolations(files: Map<string, string>): string[] {
  const bad: string[] = [];
  for (const [path, text] of files) {
    const from = placeOf(path);
    if (!from) {
      bad.push(`${path}: in no layer (add its folder to LAYERS and to README Layout)`);
      continue;
    }
    for (const target of importsOf(path, text)) {
      if (target.startsWith("tests/") && isTest(path)) continue;
      const to = placeOf(target);
      if (!to) {
        bad.push(`${path} → ${target}: the target is in no layer`);
      } else if (to.layer > from.layer) {
        bad.push(`${path} → ${target}: imports upward (layer ${from.layer} → ${to.layer})`);
      } else if (
        to.layer === from.layer && to.room !== from.room && !SHARED_WITHIN.has(from.layer)
      ) {
        bad.push(`${path} → ${target}: ${from.room} and ${to.room} are peers`);
      }
    }
  }
  return bad;
}

/** Import circles among modules, each as "a → b → a". */
export function importCycles(files: Map<string, string>): string[] {
  const graph = new Map<string, string[]>();
  for (const [path, text] of files) {
    graph.set(path, importsOf(path, text).filter((t) => files.has(t)));
  }
  const cycles: string[] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "open") {
        cycles.push([...stack.slice(stack.indexOf(next)), next].join(" → "));
      } else if (!state.has(next)) {
        visit(next);
      }
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return cycles;
}

Deno.test("lib/ imports only from its own layer or below", async () => {
  assert.deepEqual(layerViolations(await sources()), []);
});

Deno.test("lib/ has no import circles", async () => {
  assert.deepEqual(importCycles(await sources()), []);
});

Deno.test("the layer check sees an upward import, a peer import and a circle", () => {
  const files = new Map([
    ["lib/config/a.ts", 'import { x } from "../ssh/b.ts";\n'],
    ["lib/ssh/b.ts", 'import type { y } from "../config/a.ts";\n'],
    ["lib/broker/c.ts", 'export { z } from "../server/d.ts";\n'],
    ["lib/server/d.ts", 'const m = await import("../errors.ts");\n'],
    ["lib/elsewhere/e.ts", ""],
  ]);
  assert.deepEqual(layerViolations(files), [
    "lib/config/a.ts → lib/ssh/b.ts: imports upward (layer 1 → 2)",
    "lib/broker/c.ts → lib/server/d.ts: lib/broker and lib/server are peers",
    "lib/elsewhere/e.ts: in no layer (add its folder to LAYERS and to README Layout)",
  ]);
  assert.deepEqual(importCycles(files), ["lib/config/a.ts → lib/ssh/b.ts → lib/config/a.ts"]);
});
