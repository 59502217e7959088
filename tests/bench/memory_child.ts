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
import { bindMemoryTrim } from "../../lib/net/trim.ts";

const path = Deno.env.get("WARREN_MEM_REPORT");
if (!path) throw new Error("WARREN_MEM_REPORT is not set");
// Opened now: the run drops its write permission once it is up.
const out = Deno.openSync(path, { append: true });
const report = (value: unknown) =>
  out.writeSync(new TextEncoder().encode(JSON.stringify(value) + "\n"));
Deno.addSignalListener("SIGUSR2", () => {
  const before = Deno.memoryUsage();
  (globalThis as { gc?: () => void }).gc?.();
  const after = Deno.memoryUsage();
  report({ before, after });
});
if (Deno.env.get("WARREN_MEM_TRIM")) {
  const libc = Deno.dlopen("libc.so.6", { malloc_trim: { parameters: ["usize"], result: "i32" } });
  Deno.addSignalListener("SIGUSR1", () => {
    const t = performance.now();
    const r = libc.symbols.malloc_trim(0n);
    report({ trim: r, ms: performance.now() - t });
  });
}
configureCrypto(Deno.env.get("WARREN_CRYPTO"));
bindMemoryTrim(); // as main.ts does, before the run drops ffi
const parsed = await parseClientCommandLine(Deno.args, (name) => Deno.env.get(name));
if (parsed.kind !== "run") throw new Error("expected a client command line");
setupLogging(levelFor(parsed.config.verbosity));
Deno.exit(await runClient(parsed.config));
