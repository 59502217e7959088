import assert from "node:assert/strict";
import { readPasswordSource } from "./password_source.ts";
import { UsageError, WarrenError } from "../errors.ts";

Deno.test("readPasswordSource() reads the first line of a file", async () => {
  const file = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(file, "correct horse\r\nsecond line\n");
    assert.equal(await readPasswordSource(`file://${file}`), "correct horse");
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("readPasswordSource() reads an environment variable", async () => {
  Deno.env.set("WARREN_PW_TEST", "from env");
  try {
    assert.equal(await readPasswordSource("env://WARREN_PW_TEST"), "from env");
  } finally {
    Deno.env.delete("WARREN_PW_TEST");
  }
  await assert.rejects(readPasswordSource("env://WARREN_PW_TEST"), (err: unknown) => {
    assert.ok(err instanceof WarrenError);
    assert.equal(err.message, "Cannot read password: $WARREN_PW_TEST is not set");
    return true;
  });
});

Deno.test("readPasswordSource() takes the first output line of a program", async () => {
  assert.equal(await readPasswordSource("extprog://printf 'pw from prog\\nmore'"), "pw from prog");
  await assert.rejects(
    readPasswordSource("extprog://exit 3"),
    /Password program exited with status 3/,
  );
});

Deno.test("readPasswordSource() reports a missing file and a bad scheme", async () => {
  await assert.rejects(
    readPasswordSource("file:///nonexistent/warren-pw"),
    /^WarrenError: Cannot read password file \/nonexistent\/warren-pw: /,
  );
  await assert.rejects(readPasswordSource("plain"), (err: unknown) => err instanceof UsageError);
});
