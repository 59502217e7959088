import stamp from "./build/stamp.json" with { type: "json" };

/** warren's version; deno.json carries the same string (a test checks). */
export const VERSION = "0.1.0";

/**
 * The commit a release binary was built from. `lib/build/compile.ts` writes it
 * into the copy of the tree it compiles; the committed stamp has none, so a
 * run from source says "source".
 */
export const COMMIT: string = (stamp as { commit: string | null }).commit ?? "source";

/** `warren -V`: version, the Deno it runs on, the target, and the commit or "source". */
export function versionLine(): string {
  const built = COMMIT === "source" ? "source" : `commit ${COMMIT}`;
  return `warren ${VERSION} (deno ${Deno.version.deno}, ${Deno.build.target}, ${built})`;
}
