import "node:crypto"; import "node:net"; import "node:stream"; import "node:events"; import "node:buffer";
const l = Deno.listen({port: 0}); setInterval(()=>{}, 100000);
