/**
 * warren's client as main.ts runs it, plus a memory report for
 * memory_soak.ts: on SIGUSR2 it appends one JSON line to $WARREN_MEM_REPORT
 * with Deno.memoryUsage() before and after a full garbage collection (run
 * with --v8-flags=--expose-gc; without it, none), so the soak can
 * tell V8's heap from memory held outside it (external buffers) and live
 * objects from garbage. With WARREN_MEM_TRIM, SIGUSR1 calls glibc's
 * malloc_trim(0).
 */
import { configureCrypto } from "../../lib/ssh/crypto/hook.ts";
import { parseClientCommandLine, runClient } from "../../lib/commands/client.ts";
import { levelFor, setupLogging } from "../../lib/log.ts";

const report = Deno.env.get("WARREN_MEM_REPORT");
if (!report) throw new Error("WARREN_MEM_REPORT is not set");
Deno.addSignalListener("SIGUSR2", () => {
  const before = Deno.memoryUsage();
  (globalThis as { gc?: () => void }).gc?.();
  const after = Deno.memoryUsage();
  Deno.writeTextFileSync(report, JSON.stringify({ before, after }) + "\n", { append: true });
});
if (Deno.env.get("WARREN_MEM_TRIM")) {
  const libc = Deno.dlopen("libc.so.6", { malloc_trim: { parameters: ["usize"], result: "i32" } });
  Deno.addSignalListener("SIGUSR1", () => {
    const t = performance.now();
    const r = libc.symbols.malloc_trim(0n);
    Deno.writeTextFileSync(report, JSON.stringify({ trim: r, ms: performance.now() - t }) + "\n", {
      append: true,
    });
  });
}
configureCrypto(Deno.env.get("WARREN_CRYPTO"));
const parsed = await parseClientCommandLine(Deno.args, (name) => Deno.env.get(name));
if (parsed.kind !== "run") throw new Error("expected a client command line");
setupLogging(levelFor(parsed.config.verbosity));
Deno.exit(await runClient(parsed.config));
