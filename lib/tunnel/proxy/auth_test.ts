import assert from "node:assert/strict";
import { UsageError } from "../../errors.ts";
import { parseProxyAuth, ProxyCredentials } from "./auth.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("parseProxyAuth() accepts USER:file:// and USER:env:// only", () => {
  assert.deepEqual(parseProxyAuth("bob:env://PROXY_PW"), { user: "bob", source: "env://PROXY_PW" });
  assert.deepEqual(parseProxyAuth("a.b:file:///etc/pw:x"), {
    user: "a.b",
    source: "file:///etc/pw:x",
  });
  for (const bad of ["bob", "bob:", ":env://X", "bob:hunter2", "bob:extprog://cat", "bob:env://"]) {
    assert.throws(() => parseProxyAuth(bad), UsageError, bad);
  }
  assert.throws(() => parseProxyAuth(`${"u".repeat(256)}:env://X`), /longer than 255 bytes/);
});

Deno.test("ProxyCredentials.check() needs both user and password to match", () => {
  const creds = new ProxyCredentials("bob", "s3cret");
  assert.equal(creds.check(enc("bob"), enc("s3cret")), true);
  assert.equal(creds.check(enc("bob"), enc("s3cre")), false);
  assert.equal(creds.check(enc("bob"), enc("s3cret!")), false);
  assert.equal(creds.check(enc("alice"), enc("s3cret")), false);
  assert.equal(creds.check(enc(""), enc("")), false);
});

Deno.test("ProxyCredentials.load() reads env:// and the first line of file://", async () => {
  Deno.env.set("WARREN_TEST_PROXY_PW", "from-env");
  try {
    const a = await ProxyCredentials.load({ user: "u", source: "env://WARREN_TEST_PROXY_PW" });
    assert.equal(a.check(enc("u"), enc("from-env")), true);
  } finally {
    Deno.env.delete("WARREN_TEST_PROXY_PW");
  }
  const file = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(file, "from-file\r\nsecond line\n");
    const b = await ProxyCredentials.load({ user: "u", source: `file://${file}` });
    assert.equal(b.check(enc("u"), enc("from-file")), true);
    await Deno.writeTextFile(file, "\n");
    await assert.rejects(
      ProxyCredentials.load({ user: "u", source: `file://${file}` }),
      /password from file:\/\/.* is empty/,
    );
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("ProxyCredentials.load() fails clearly without the secret", async () => {
  await assert.rejects(
    ProxyCredentials.load({ user: "u", source: "env://WARREN_TEST_UNSET_VAR" }),
    (err: unknown) =>
      err instanceof UsageError && /\$WARREN_TEST_UNSET_VAR is not set/.test(err.message),
  );
  await assert.rejects(
    ProxyCredentials.load({ user: "u", source: "file:///nonexistent/pw" }),
    /password file \/nonexistent\/pw: no such file/,
  );
});
