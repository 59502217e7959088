import assert from "node:assert/strict";
import { fileProblem, messageOf } from "./errors.ts";
import { createServer } from "node:net";

/** The error Deno throws reading `path`. */
async function readError(path: string): Promise<unknown> {
  try {
    await Deno.readTextFile(path);
  } catch (err) {
    return err;
  }
  assert.fail(`${path} was readable`);
}

Deno.test("fileProblem: a few words for each way a read fails, without Deno's call details", async () => {
  const dir = await Deno.makeTempDir({ prefix: "warren-errors-" });
  try {
    assert.equal(fileProblem(await readError(`${dir}/missing`)), "no such file");
    assert.equal(fileProblem(await readError(dir)), "is a directory");
    await Deno.writeTextFile(`${dir}/file`, "x");
    const underFile = fileProblem(await readError(`${dir}/file/below`));
    assert.equal(underFile, "not a directory");
    assert.equal(fileProblem(new Error("something else")), "something else");
    assert.equal(fileProblem("a string"), "a string");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("messageOf: a system error in a few words, without (os error N) or Node's syscall text", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = taken.addr.port;
  // Deno's own errors.
  const denoListen = (() => {
    try {
      Deno.listen({ hostname: "127.0.0.1", port });
    } catch (err) {
      return err;
    }
  })();
  assert.match((denoListen as Error).message, /\(os error \d+\)/);
  assert.equal(messageOf(denoListen), "address already in use");
  const write = await Deno.writeTextFile("/nonexistent-warren/x", "").catch((e) => e);
  assert.match((write as Error).message, /\(os error 2\): writefile/);
  assert.equal(messageOf(write), "no such file or directory");
  taken.close();
  const refused = await Deno.connect({ hostname: "127.0.0.1", port }).catch((e) => e);
  assert.equal(messageOf(refused), "connection refused");
  // node:net, as ssh2 and warren serve's listener see it.
  using again = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const server = createServer();
  const nodeListen = await new Promise<Error>((resolve) => {
    server.once("error", resolve);
    server.listen(again.addr.port, "127.0.0.1");
  });
  server.close();
  assert.match(nodeListen.message, /^listen EADDRINUSE: /);
  assert.equal(messageOf(nodeListen), "address already in use");
  // Unknown codes keep the system's words, and other errors their message.
  const odd = Object.assign(new Error("Odd failure (os error 1234)"), { code: "EODD" });
  assert.equal(messageOf(odd), "odd failure");
  const nodeOdd = Object.assign(new Error("bind EODD: odd thing 127.0.0.1:22"), { code: "EODD" });
  assert.equal(messageOf(nodeOdd), "odd thing");
  const coded = Object.assign(new Error("Handshake failed: no matching cipher"), { code: "X" });
  assert.equal(messageOf(coded), "Handshake failed: no matching cipher");
  assert.equal(messageOf("text"), "text");
});
