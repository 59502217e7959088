import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { parsePublicKeyFile, readHostKeyDirectory } from "./host_key_dir.ts";
import { loadKnownHosts, lookupHostKey } from "./known_hosts.ts";
import { ED_A } from "./_known_hosts_fixtures.ts";

/** An RFC 4716 public key file, as Tectia writes key_<port>_<host>.pub. */
function secsh(base64: string): string {
  const body = base64.match(/.{1,70}/g)!.join("\n");
  return "---- BEGIN SSH2 PUBLIC KEY ----\n" +
    'Comment: "host key of db.example.com, a comment that goes on \\\n' +
    'and on over two lines"\n' +
    `x-Tectia-Header: one\n${body}\n---- END SSH2 PUBLIC KEY ----\n`;
}

Deno.test("parsePublicKeyFile() reads RFC 4716 blocks (headers, continued lines) and OpenSSH lines", () => {
  const want = { keyType: "ssh-ed25519", keyBase64: ED_A };
  assert.deepEqual(parsePublicKeyFile(secsh(ED_A)), want);
  assert.deepEqual(parsePublicKeyFile(secsh(ED_A).replaceAll("\n", "\r\n")), want);
  assert.deepEqual(parsePublicKeyFile(`ssh-ed25519 ${ED_A} root@db\n`), want);
  assert.equal(parsePublicKeyFile("---- BEGIN SSH2 PUBLIC KEY ----\nAAAA\n"), undefined);
  assert.equal(parsePublicKeyFile("not a key"), undefined);
  assert.equal(parsePublicKeyFile(secsh(Buffer.from("junk").toString("base64"))), undefined);
});

Deno.test("a Tectia host key directory: plain names are keys, hashed ones counted, nothing else read", async () => {
  const dir = await Deno.makeTempDir({ prefix: "warren-hostkeys-" });
  try {
    await Deno.writeTextFile(`${dir}/key_22_db.example.com.pub`, secsh(ED_A));
    await Deno.writeTextFile(`${dir}/key_2222_DB.example.com.pub`, `ssh-ed25519 ${ED_A}\n`);
    await Deno.writeTextFile(`${dir}/keys_182166d2efe5a134d3fb948646e0b48f780bff6c`, "hashed");
    await Deno.writeTextFile(`${dir}/key_22_broken.pub`, "garbage");
    await Deno.writeTextFile(`${dir}/salt`, "salt");
    const read = await readHostKeyDirectory(dir);
    assert.deepEqual(read.keys.map((k) => [k.host, k.port]), [
      ["DB.example.com", 2222],
      ["db.example.com", 22],
    ]);
    assert.deepEqual(read.hashed, [`${dir}/keys_182166d2efe5a134d3fb948646e0b48f780bff6c`]);
    assert.deepEqual(read.unreadable, [{
      file: `${dir}/key_22_broken.pub`,
      why: "not an SSH public key",
    }]);
    assert.equal((await readHostKeyDirectory(`${dir}/none`)).missing, true);

    // As known hosts: the directory is a path with a trailing "/".
    const entries = await loadKnownHosts([`${dir}/`]);
    const blob = new Uint8Array(Buffer.from(ED_A, "base64"));
    for (const [host, port] of [["db.example.com", 22], ["db.example.com", 2222]] as const) {
      assert.equal(lookupHostKey(entries, host, port, "ssh-ed25519", blob).status, "match");
    }
    assert.equal(
      lookupHostKey(entries, "db.example.com", 23, "ssh-ed25519", blob).status,
      "unknown",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
