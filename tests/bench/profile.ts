/**
 * Summarise a V8 .cpuprofile (from `deno run --cpu-prof`): self time by
 * function and by file, top entries first.
 *
 *   deno run --allow-read tests/bench/profile.ts FILE.cpuprofile [TOP]
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function shortUrl(url: string): string {
  if (!url) return "(native)";
  const npm = /registry\.npmjs\.org\/(.+)$/.exec(url);
  if (npm) return `npm:${npm[1]}`;
  return url.replace(/^file:\/\/.*?\/(lib|tests|main\.ts)/, "$1");
}

/** Top `top` functions and files by self time, as printable lines. */
export async function summarizeProfile(path: string, top = 12): Promise<string[]> {
  const profile = JSON.parse(await Deno.readTextFile(path)) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const f = byId.get(id)?.callFrame;
    if (!f) return;
    total += dt;
    const where = shortUrl(f.url);
    const name = `${f.functionName || "(anonymous)"} ${where}:${f.lineNumber + 1}`;
    fn.set(name, (fn.get(name) ?? 0) + dt);
    file.set(where, (file.get(where) ?? 0) + dt);
  });
  const rows = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) =>
      `${(100 * v / total).toFixed(1).padStart(5)}%  ${k}`
    );
  return [
    `${path}: ${(total / 1e6).toFixed(1)} s sampled`,
    "self time by function:",
    ...rows(fn),
    "self time by file:",
    ...rows(file),
  ];
}

if (import.meta.main) {
  const [path, top] = Deno.args;
  if (!path) {
    console.error("usage: profile.ts FILE.cpuprofile [TOP]");
    Deno.exit(2);
  }
  console.log((await summarizeProfile(path, Number(top) || 12)).join("\n"));
}
