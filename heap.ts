// Load warren's client command modules as a plain -L would, then report heap figures.
const t0 = performance.now();
await import("/work/main/lib/commands/client.ts");
await import("/work/main/lib/ssh/connection.ts");
await import("/work/main/lib/tunnel/local.ts");
await import("/work/main/lib/tunnel/proxy/proxy.ts").catch(() => {});
const m = Deno.memoryUsage();
console.log(`load ${(performance.now() - t0).toFixed(0)} ms; rss ${(m.rss / 1048576).toFixed(1)} heapTotal ${(m.heapTotal / 1048576).toFixed(1)} heapUsed ${(m.heapUsed / 1048576).toFixed(1)} external ${(m.external / 1048576).toFixed(1)}`);
