import "ssh2";
const l = Deno.listen({port: 0}); setInterval(()=>{}, 100000);
