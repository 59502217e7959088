import assert from "node:assert/strict";
import { UsageError } from "../errors.ts";
import { defaultHostKeyPath, loadHostKey } from "./host_key.ts";
import { generateEd25519 } from "./keygen.ts";
import { ecdsaKey, ecdsaKeyPair, scalarFor } from "../../tests/_harness/ecdsa_keys.ts";

const env = (vars: Record<string, string>) => (name: string) => vars[name];
const posix = Deno.build.os !== "windows";

Deno.test("defaultHostKeyPath(): XDG_CONFIG_HOME, else ~/.config; %APPDATA% on Windows", () => {
  assert.equal(
    defaultHostKeyPath(env({ HOME: "/home/u", XDG_CONFIG_HOME: "/cfg" }), "linux"),
    "/cfg/warren/host_ed25519_key",
  );
  assert.equal(
    defaultHostKeyPath(env({ HOME: "/home/u" }), "darwin"),
    "/home/u/.config/warren/host_ed25519_key",
  );
  assert.equal(
    defaultHostKeyPath(env({ HOME: "/home/u", XDG_CONFIG_HOME: "" }), "linux"),
    "/home/u/.config/warren/host_ed25519_key",
  );
  assert.match(
    defaultHostKeyPath(env({ APPDATA: "C:/Users/u/AppData/Roaming" }), "windows"),
    /Roaming.warren.host_ed25519_key$/,
  );
});

Deno.test("loadHostKey() generates an ed25519 key on first run (0600, .pub beside it), then reuses it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/new/warren/host_ed25519_key`;
    const first = await loadHostKey(path, true);
    assert.equal(first.generated, true);
    assert.equal(first.type, "ssh-ed25519");
    assert.match(first.fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
    if (posix) {
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(`${dir}/new/warren`)).mode! & 0o777, 0o700);
    }
    const pub = (await Deno.readTextFile(`${path}.pub`)).split(" ");
    assert.equal(pub[0], "ssh-ed25519");
    const again = await loadHostKey(path, true);
    assert.equal(again.generated, false);
    assert.equal(again.fingerprint, first.fingerprint);
    const fp = await new Deno.Command("ssh-keygen", { args: ["-l", "-f", `${path}.pub`] }).output()
      .catch(() => undefined);
    if (fp?.success) {
      assert.equal(new TextDecoder().decode(fp.stdout).split(" ")[1], first.fingerprint);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadHostKey() refuses a missing explicit key, a readable-by-others key, a public key, junk", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      loadHostKey(`${dir}/nope`, false),
      (e: Error) =>
        e instanceof UsageError && /Cannot read host key \S+nope: no such file/.test(e.message),
    );
    const pair = generateEd25519();
    if (posix) {
      await Deno.writeTextFile(`${dir}/open`, pair.private, { mode: 0o644 });
      await Deno.chmod(`${dir}/open`, 0o644);
      await assert.rejects(
        loadHostKey(`${dir}/open`, false),
        /mode 0644 lets other users read it \(chmod 600/,
      );
    }
    await Deno.writeTextFile(`${dir}/pub`, pair.public, { mode: 0o600 });
    await assert.rejects(loadHostKey(`${dir}/pub`, false), /it is a public key/);
    await Deno.writeTextFile(`${dir}/junk`, "hello\n", { mode: 0o600 });
    await assert.rejects(loadHostKey(`${dir}/junk`, false), /not a private key/);
    await assert.rejects(loadHostKey(dir, false), /Cannot (read|use) host key/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadHostKey() reads an OpenSSH key made by ssh-keygen", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    const made = await new Deno.Command("ssh-keygen", {
      args: ["-q", "-t", "ecdsa", "-N", "", "-f", `${dir}/k`],
    }).output().catch(() => undefined);
    if (!made?.success) return void t.step({ name: "ssh-keygen missing", ignore: true, fn() {} });
    const key = await loadHostKey(`${dir}/k`, false);
    assert.equal(key.type, "ecdsa-sha2-nistp256");
    const fp = await new Deno.Command("ssh-keygen", { args: ["-l", "-f", `${dir}/k.pub`] })
      .output();
    assert.equal(new TextDecoder().decode(fp.stdout).split(" ")[1], key.fingerprint);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadHostKey() takes an ECDSA key with a leading zero scalar, refuses one that cannot sign", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Stored with a leading zero byte: ssh2 alone could not sign with it under Deno.
    await Deno.writeTextFile(`${dir}/lz`, ecdsaKey(384, "leading-zero", "host").private, {
      mode: 0o600,
    });
    assert.equal((await loadHostKey(`${dir}/lz`, false)).type, "ecdsa-sha2-nistp384");
    // A private scalar above the curve's order: no signature is possible.
    const broken = ecdsaKeyPair(
      256,
      new Uint8Array(32).fill(0xff),
      "",
      scalarFor(256, "full", "h"),
    );
    await Deno.writeTextFile(`${dir}/broken`, broken.private, { mode: 0o600 });
    await assert.rejects(
      loadHostKey(`${dir}/broken`, false),
      (e: Error) =>
        e instanceof UsageError &&
        /Cannot use host key \S+broken: it cannot sign \(/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
