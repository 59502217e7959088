import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { ProxyCommandExit, spawnProxyCommand, unknownProxyTokens } from "./proxy_command.ts";

Deno.test("ProxyCommandSocket: bytes through a command and back, then its exit ends the stream", async () => {
  const sock = spawnProxyCommand("cat");
  const sent = Buffer.alloc(300_000);
  for (let i = 0; i < sent.length; i++) sent[i] = (i * 7 + (i >> 9)) & 0xff;
  const chunks: Buffer[] = [];
  const ended = new Promise<Error | undefined>((resolve) => {
    sock.on("data", (c: Buffer) => chunks.push(c));
    sock.on("error", (err) => resolve(err));
    sock.on("close", () => resolve(undefined));
  });
  sock.write(sent.subarray(0, 1000));
  sock.write(sent.subarray(1000));
  sock.end();
  const err = await ended;
  assert.ok(err instanceof ProxyCommandExit, `got ${err}`);
  assert.equal(err.message, "proxy command 'cat' exited with status 0");
  assert.ok(Buffer.concat(chunks).equals(sent), "the bytes differ");
  assert.equal((await sock.exited).code, 0);
});

Deno.test("ProxyCommandSocket: destroying it ends a command that is still running", async () => {
  const sock = spawnProxyCommand("sleep 30");
  sock.on("error", () => {});
  sock.destroy();
  assert.equal((await sock.exited).signal, "SIGTERM");
});

Deno.test("unknownProxyTokens(): only %h %p %r %% are known", () => {
  assert.deepEqual(unknownProxyTokens("nc %h %p %r %%"), []);
  assert.deepEqual(unknownProxyTokens("nc %n %"), ["%n", "%"]);
});
