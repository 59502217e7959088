import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { parseAuthorizedKeys, parseExpiry } from "./authorized_keys.ts";
import { fromAllows } from "./from_match.ts";

// Made with ssh-keygen -t ed25519 / ecdsa -b 256 / rsa -b 1024; fingerprints from ssh-keygen -l.
const ED = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM0id2C3pd8INOaIzilvSK8/UwMHk7+pb+fk3EB8OEPA a@x";
const EC =
  "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBF2bBfJP4T449Lw3" +
  "KlDoPXS5LFSZSBRRdKHQmw8oGiIgRrfOWnH8YKfYg6lat1a0LAjd2Qu3x+AkCEJOIY2avU0= b@x";
const RSA =
  "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDS0drdOo7nyJHmAOUB0zcjtQhOTsYEGbmDvf8Q/+aFesM/QKpDuPVo" +
  "vuc7eOnpbkyyK143CMF9uDSQeMkfBSXSff4c+VrwUbGNY3Ca9n6kBKe1pZ42zc9DgvwuUVEMAkJSp6OxiZHt/hwh8U5Yit6" +
  "VCPSJjlPNyb+28cg9xjkxsQ== c@x";

const parse = (text: string) => parseAuthorizedKeys(text, "ak");
const one = (line: string) => {
  const r = parse(line);
  assert.deepEqual(r.problems, []);
  assert.equal(r.keys.length, 1);
  return r.keys[0];
};
const problem = (line: string) => {
  const r = parse(line);
  assert.equal(r.keys.length, 0, `accepted: ${line}`);
  assert.equal(r.problems.length, 1);
  return r.problems[0].message;
};

Deno.test("parseAuthorizedKeys() reads ed25519, ecdsa and rsa lines with ssh-keygen's fingerprints", () => {
  const r = parse(`# comment\n\n${ED}\r\n  ${EC}\n${RSA}\n`);
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.keys.map((k) => [k.keyType, k.fingerprint, k.comment, k.line]), [
    ["ssh-ed25519", "SHA256:zm7u2GV0ZNk7+J/YuVPrE1sw8ayCrYm4tNGcytDjH44", "a@x", 3],
    ["ecdsa-sha2-nistp256", "SHA256:iTWX1iGUWLkep45T4hcCftAKAo9v0RHxt3Vv3heJ3G0", "b@x", 4],
    ["ssh-rsa", "SHA256:GK6pGcUYQYXSLOKqPsuKuU14tNvbbAdtPiY+H7Qy9jc", "c@x", 5],
  ]);
  assert.deepEqual(r.keys[0].options, { portForwarding: true });
});

Deno.test("parseAuthorizedKeys() reads options with quotes, escaped quotes, spaces and any case", () => {
  const key = one(
    `FROM="10.0.0.0/8,!10.1.*",command="echo \\"hi there\\"",Permitopen="db:5432",` +
      `permitopen="[::1]:*",PermitListen="8080",permitlisten="localhost:0",no-pty ${ED}`,
  );
  assert.equal(key.options.fromText, "10.0.0.0/8,!10.1.*");
  assert.deepEqual(key.options.permitOpen, [{ host: "db", port: 5432 }, {
    host: "::1",
    port: "*",
  }]);
  assert.deepEqual(key.options.permitListen, [{ host: "*", port: 8080 }, {
    host: "localhost",
    port: 0,
  }]);
  assert.equal(key.options.portForwarding, true);
  assert.equal(key.comment, "a@x");
  assert.ok(fromAllows(key.options.from!, "10.2.3.4"));
  assert.ok(!fromAllows(key.options.from!, "10.1.3.4"));
});

Deno.test("parseAuthorizedKeys(): restrict and no-port-forwarding turn forwarding off, port-forwarding on", () => {
  assert.equal(one(`restrict ${ED}`).options.portForwarding, false);
  assert.equal(one(`no-port-forwarding ${ED}`).options.portForwarding, false);
  assert.equal(one(`restrict,port-forwarding ${ED}`).options.portForwarding, true);
  assert.equal(
    one(`no-agent-forwarding,no-X11-forwarding,pty,user-rc ${ED}`).options.portForwarding,
    true,
  );
});

Deno.test("parseAuthorizedKeys(): expiry-time in local time or UTC", () => {
  assert.equal(
    one(`expiry-time="20300102" ${ED}`).options.expiry?.getTime(),
    new Date(2030, 0, 2).getTime(),
  );
  assert.equal(
    one(`expiry-time="203001021530Z" ${ED}`).options.expiry?.toISOString(),
    "2030-01-02T15:30:00.000Z",
  );
  assert.equal(parseExpiry("20300102153045Z").toISOString(), "2030-01-02T15:30:45.000Z");
  assert.throws(() => parseExpiry("20301340"), /not a valid date/);
  assert.throws(() => parseExpiry("2030-01-02"), /not YYYYMMDD/);
});

Deno.test("parseAuthorizedKeys() skips, with a reason, every line it cannot honour", () => {
  const cases: [string, RegExp][] = [
    [`unknown-opt ${ED}`, /unknown option 'unknown-opt'/],
    [`from="10.0.0.0/8" ,${ED}`, /expected \[options\]|is not a key type/],
    [`from=10.0.0.0 ${ED}`, /needs a quoted value/],
    [`from="10.0.0.0/8 ${ED}`, /unterminated quote/],
    [`from="10.1.0.0/8" ${ED}`, /host bits are set/],
    [`from="10.0.0.0/33" ${ED}`, /not an address\/bits block/],
    [`from="a",from="b" ${ED}`, /from= given twice/],
    [`from ${ED}`, /needs ="value"/],
    [`restrict="x" ${ED}`, /takes no value/],
    [`permitopen="db" ${ED}`, /expected host:port/],
    [`permitopen="db:0" ${ED}`, /not a port/],
    [`permitopen="::1:80" ${ED}`, /IPv6 address goes in brackets/],
    [`permitopen="*.internal:80" ${ED}`, /literal/],
    [`permitlisten="x:70000" ${ED}`, /not a port/],
    [`expiry-time="tomorrow" ${ED}`, /not YYYYMMDD/],
    [`cert-authority ${ED}`, /certificates/],
    [`no-pty,,restrict ${ED}`, /bad option syntax/],
    [`restrict, ${ED}`, /trailing ','|expected/],
    ["ssh-ed25519", /expected \[options\] keytype/],
    ["ssh-ed25519 not*base64", /not valid base64/],
    [`ssh-rsa ${ED.split(" ")[1]}`, /the key says ssh-ed25519 but the line says ssh-rsa/],
    ["ssh-ed25519 AAAA", /not an SSH public key/],
    [`ssh-dss ${ED.split(" ")[1]}`, /ssh-dss keys are not supported/],
    [`ssh-ed25519-cert-v01@openssh.com ${ED.split(" ")[1]}`, /not supported/],
  ];
  for (const [line, want] of cases) assert.match(problem(line), want, line);
});

Deno.test("parseAuthorizedKeys() refuses FIDO (sk-) keys and malformed key data", () => {
  const sk = Buffer.concat([
    str("sk-ssh-ed25519@openssh.com"),
    str(Buffer.alloc(32, 7)),
    str("ssh:"),
  ]);
  assert.match(problem(`sk-ssh-ed25519@openssh.com ${sk.toString("base64")}`), /not supported/);
  // An ed25519 blob with a 31-byte key (ssh2's dropped zero byte): unusable.
  const short = Buffer.concat([str("ssh-ed25519"), str(Buffer.alloc(31, 1))]);
  assert.match(problem(`ssh-ed25519 ${short.toString("base64")}`), /malformed/);
});

Deno.test("parseAuthorizedKeys() keeps good lines around bad ones, with file and line", () => {
  const r = parse(`${ED}\nbogus-option ${EC}\n${RSA}\n`);
  assert.deepEqual(r.keys.map((k) => k.line), [1, 3]);
  assert.deepEqual(r.problems, [{ file: "ak", line: 2, message: "unknown option 'bogus-option'" }]);
});

function str(data: string | Uint8Array): Buffer {
  const body = Buffer.from(data);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}
