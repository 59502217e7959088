/**
 * The override of ssh2's cipher factory (hook.ts) must stay in force: these
 * tests fail if ssh2 is upgraded past the version it was written for, if
 * something imports ssh2 around lib/ssh/ssh2.ts, or if a live connection
 * stops using warren's ciphers for any AEAD cipher with either backend.
 */
import assert from "node:assert/strict";
import { configureCrypto, preferredCiphers } from "./hook.ts";

const ROOT = new URL("../../../", import.meta.url);

Deno.test("ssh2 is pinned to the version the cipher hook was written for", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  // On an upgrade: re-read ssh2's lib/protocol/crypto.js and kex.js, check
  // that kex.js still takes createCipher/createDecipher from crypto.js and
  // the cipher/decipher interface is unchanged, then update this pin.
  assert.equal(config.imports.ssh2, "npm:ssh2@1.17.0");
});

Deno.test("only lib/ssh/ssh2.ts imports ssh2 itself (the hook must load first)", async () => {
  const offenders: string[] = [];
  const walk = async (dir: URL, rel: string) => {
    for await (const e of Deno.readDir(dir)) {
      const path = `${rel}${e.name}`;
      if (e.isDirectory && !e.name.startsWith(".") && e.name !== "node_modules") {
        await walk(new URL(`${e.name}/`, dir), `${path}/`);
      } else if (e.isFile && e.name.endsWith(".ts") && path !== "lib/ssh/ssh2.ts") {
        const text = await Deno.readTextFile(new URL(e.name, dir));
        // A type-only import loads nothing (lib/ssh/ssh2_server.ts has one).
        if (
          /^\s*(import|export)\s+(?!type\s)[^;]*?from\s+["'](npm:)?ssh2(@[\d.]+)?["']/m.test(text)
        ) {
          offenders.push(path);
        }
      }
    }
  };
  for (const top of ["lib/", "tests/"]) await walk(new URL(top, ROOT), top);
  const main = await Deno.readTextFile(new URL("main.ts", ROOT));
  if (/from\s+["'](npm:)?ssh2["']/.test(main)) offenders.push("main.ts");
  assert.deepEqual(offenders, []);
});

Deno.test("the default cipher order puts the backend's fastest AEAD first", () => {
  try {
    assert.equal(configureCrypto("builtin").name, "builtin");
    assert.equal(preferredCiphers()[0], "chacha20-poly1305@openssh.com");
    const p = configureCrypto("auto");
    assert.equal(
      preferredCiphers()[0],
      p.name === "openssl" ? "aes128-gcm@openssh.com" : "chacha20-poly1305@openssh.com",
    );
    assert.throws(() => configureCrypto("fast"), /Invalid WARREN_CRYPTO 'fast'/);
  } finally {
    configureCrypto("auto");
  }
});

Deno.test({
  name: "WARREN_CRYPTO=builtin loads no libcrypto; auto does (where there is one)",
  ignore: Deno.build.os !== "linux",
}, async () => {
  const mapped = async (mode: string) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `await import(${JSON.stringify(new URL("./hook.ts", import.meta.url).href)});` +
        `console.log(Deno.readTextFileSync("/proc/self/maps").includes("libcrypto"))`,
      ],
      env: { WARREN_CRYPTO: mode },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    return new TextDecoder().decode(out.stdout).trim() === "true";
  };
  assert.equal(await mapped("builtin"), false);
  if (configureCrypto("auto").name === "openssl") assert.equal(await mapped("auto"), true);
});
