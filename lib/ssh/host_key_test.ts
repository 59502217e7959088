import assert from "node:assert/strict";
import { WarrenError } from "../errors.ts";
import {
  blob,
  EC_A,
  EC_A_FP,
  ED_A,
  ED_A_FP,
  ED_B,
  ED_B_FP,
} from "../config/_known_hosts_fixtures.ts";
import { parseKnownHosts } from "../config/known_hosts.ts";
import { type HostKeyCheck, verifyHostKey } from "./host_key.ts";
import type { HostKeyPolicy } from "../config/host_key_policy.ts";

const HOST = "example.com";
const PORT = 2222;
const TOKEN = "[example.com]:2222";

interface Setup {
  /** Content of the user file; undefined: the file and its directory are missing. */
  user?: string;
  /** Content of the system file (never written). */
  system?: string;
  policy: HostKeyPolicy;
  /** The answer `confirm` gives; undefined: no terminal. */
  answer?: boolean | Error;
  host?: string;
  port?: number;
  overrides?: Partial<HostKeyCheck>;
}

interface Outcome {
  /** The error thrown, or undefined when the key was accepted. */
  error?: WarrenError;
  /** The user file afterwards, undefined when missing. */
  user?: string;
  userFile: string;
  systemFile: string;
  questions: string[];
  warnings: string[];
  infos: string[];
}

/** Run verifyHostKey() in a temp dir offering `key`; the dir is removed after. */
async function run(setup: Setup, key: string): Promise<Outcome> {
  const dir = await Deno.makeTempDir({ prefix: "warren_host_key_" });
  try {
    const userFile = `${dir}/home/.ssh/known_hosts`;
    const systemFile = `${dir}/etc/ssh/ssh_known_hosts`;
    const system = setup.system ?? `unrelated.example ssh-ed25519 ${ED_B}\n`;
    await Deno.mkdir(`${dir}/etc/ssh`, { recursive: true });
    await Deno.writeTextFile(systemFile, system);
    if (setup.user !== undefined) {
      await Deno.mkdir(`${dir}/home/.ssh`, { recursive: true });
      await Deno.writeTextFile(userFile, setup.user);
    }
    const out: Outcome = {
      userFile,
      systemFile,
      questions: [],
      warnings: [],
      infos: [],
    };
    const answer = setup.answer;
    const check: HostKeyCheck = {
      host: setup.host ?? HOST,
      port: setup.port ?? PORT,
      policy: setup.policy,
      knownHostsFiles: [userFile, systemFile],
      userKnownHostsFile: userFile,
      confirm: answer === undefined ? undefined : (question) => {
        out.questions.push(question);
        return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
      },
      warn: (line) => out.warnings.push(line),
      info: (line) => out.infos.push(line),
      ...setup.overrides,
    };
    try {
      await verifyHostKey(check, blob(key));
    } catch (err) {
      assert.ok(err instanceof WarrenError, `not a WarrenError: ${err}`);
      assert.equal(err.kind, "hostkey");
      out.error = err;
    }
    assert.equal(await Deno.readTextFile(systemFile), system, "system file changed");
    try {
      out.user = await Deno.readTextFile(userFile);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    return out;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The states of the policy table, each offering ED_A for [example.com]:2222. */
const STATES = {
  match: { user: `${TOKEN} ssh-ed25519 ${ED_A}\n` },
  unknown: { user: undefined },
  mismatch: { user: `# mine\n${TOKEN} ssh-ed25519 ${ED_B}\n` },
  revoked: {
    user: `${TOKEN} ssh-ed25519 ${ED_A}\n`,
    system: `# revoked keys\n@revoked * ssh-ed25519 ${ED_A}\n`,
  },
};

type Expect = "accept" | "store" | "refuse" | "warn";

const TABLE: Record<HostKeyPolicy, Record<keyof typeof STATES, Expect>> = {
  strict: { match: "accept", unknown: "refuse", mismatch: "refuse", revoked: "refuse" },
  ask: { match: "accept", unknown: "store", mismatch: "refuse", revoked: "refuse" },
  tofu: { match: "accept", unknown: "store", mismatch: "refuse", revoked: "refuse" },
  advisory: { match: "accept", unknown: "store", mismatch: "warn", revoked: "refuse" },
};

const NOUN: Record<keyof typeof STATES, string> = {
  match: "a known key",
  unknown: "an unknown key",
  mismatch: "a changed key",
  revoked: "a revoked key",
};

const VERB: Record<Expect, string> = {
  accept: "accepts",
  store: "stores and accepts",
  refuse: "refuses",
  warn: "warns and accepts",
};

function firstLine(err: Error | undefined): string {
  assert.ok(err, "expected a refusal");
  return err.message.split("\n")[0];
}

for (const [policy, row] of Object.entries(TABLE)) {
  for (const [state, expect] of Object.entries(row)) {
    Deno.test(
      `verifyHostKey() with policy ${policy} ${VERB[expect]} ${NOUN[state as keyof typeof STATES]}`,
      async () => {
        const setup = STATES[state as keyof typeof STATES];
        // "ask" has a terminal answering yes; no other policy may ask.
        const out = await run({ ...setup, policy: policy as HostKeyPolicy, answer: true }, ED_A);
        if (policy !== "ask" || state !== "unknown") assert.deepEqual(out.questions, []);
        switch (expect) {
          case "accept":
            assert.equal(out.error, undefined);
            assert.equal(out.user, setup.user);
            assert.deepEqual([out.warnings, out.infos], [[], []]);
            break;
          case "store":
            assert.equal(out.error, undefined);
            assert.equal(out.user, `${TOKEN} ssh-ed25519 ${ED_A}\n`);
            assert.deepEqual(out.warnings, []);
            assert.deepEqual(out.infos, [
              `Added host key for example.com:2222 (ssh-ed25519 ${ED_A_FP}) to ${out.userFile}`,
            ]);
            break;
          case "warn":
            assert.equal(out.error, undefined);
            assert.equal(out.user, setup.user, "advisory must not store a changed key");
            assert.match(
              out.warnings[0],
              /^WARNING: the host key for example\.com:2222 has changed/,
            );
            assert.ok(out.warnings.some((w) => w.includes(ED_A_FP)));
            assert.ok(out.warnings.some((w) => w.includes(`${ED_B_FP} (${out.userFile}:2)`)));
            break;
          case "refuse":
            assert.equal(out.user, setup.user, "a refusal must not write");
            assert.ok(out.error);
            if (state !== "mismatch") assert.ok(!out.error.message.includes("\n"));
            if (state === "unknown") {
              assert.equal(
                out.error.message,
                `Host key for example.com:2222 is not known (ssh-ed25519 ${ED_A_FP}): add it to ${out.userFile} or use --hostkey-policy=tofu/ask`,
              );
            } else if (state === "revoked") {
              assert.equal(
                out.error.message,
                `Host key for example.com:2222 is revoked (ssh-ed25519 ${ED_A_FP}, ${out.systemFile}:2): refusing to connect`,
              );
            } else {
              assert.equal(
                firstLine(out.error),
                `Host key for example.com:2222 has changed (offered ssh-ed25519 ${ED_A_FP}, expected ssh-ed25519 ${ED_B_FP} (${out.userFile}:2)): refusing to connect`,
              );
              assert.ok(
                out.error.message.includes(`ssh-keygen -R "${TOKEN}" -f "${out.userFile}"`),
              );
            }
            break;
        }
      },
    );
  }
}

Deno.test("verifyHostKey() with policy ask shows the fingerprint in the question", async () => {
  const out = await run({ policy: "ask", answer: true }, ED_A);
  assert.deepEqual(out.questions, [
    `The authenticity of host example.com:2222 cannot be established (ssh-ed25519 ${ED_A_FP}). Trust it and add it to ${out.userFile}?`,
  ]);
});

Deno.test("verifyHostKey() with policy ask refuses when the user says no", async () => {
  const out = await run({ policy: "ask", answer: false }, ED_A);
  assert.equal(out.questions.length, 1);
  assert.equal(
    out.error?.message,
    `Host key for example.com:2222 was not accepted (ssh-ed25519 ${ED_A_FP})`,
  );
  assert.equal(out.user, undefined);
});

Deno.test("verifyHostKey() with policy ask refuses like strict without a terminal", async () => {
  const out = await run({ policy: "ask" }, ED_A);
  assert.equal(
    out.error?.message,
    `Host key for example.com:2222 is not known (ssh-ed25519 ${ED_A_FP}) and there is no terminal to confirm it: add it to ${out.userFile} or use --hostkey-policy=tofu`,
  );
  assert.equal(out.user, undefined);
});

Deno.test("verifyHostKey() with policy ask refuses when the prompt fails", async () => {
  const out = await run({ policy: "ask", answer: new Error("end of input at the prompt") }, ED_A);
  assert.equal(
    out.error?.message,
    "Cannot confirm the host key for example.com:2222: end of input at the prompt",
  );
  assert.equal(out.user, undefined);
});

Deno.test("verifyHostKey() with policy tofu stores a key that strict then accepts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "warren_host_key_" });
  try {
    const file = `${dir}/known_hosts`;
    await Deno.writeTextFile(file, `other ssh-ed25519 ${ED_B}`); // no trailing newline
    const check = (policy: HostKeyPolicy): HostKeyCheck => ({
      host: "::1",
      port: 22,
      policy,
      knownHostsFiles: [file],
      userKnownHostsFile: file,
      hashKnownHosts: true,
      warn: (line) => assert.fail(`unexpected warning: ${line}`),
      info: () => {},
    });
    await verifyHostKey(check("tofu"), blob(ED_A));
    const lines = (await Deno.readTextFile(file)).split("\n");
    assert.equal(lines.length, 3);
    assert.equal(lines[0], `other ssh-ed25519 ${ED_B}`);
    assert.match(lines[1], /^\|1\|[^ ]+ ssh-ed25519 /);
    assert.equal(lines[2], "");
    await verifyHostKey(check("strict"), blob(ED_A));
    await assert.rejects(
      verifyHostKey({ ...check("strict"), port: 2222 }, blob(ED_A)),
      /not known/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("verifyHostKey() with policy tofu accepts with a warning when it cannot store", async () => {
  const dir = await Deno.makeTempDir({ prefix: "warren_host_key_" });
  try {
    await Deno.writeTextFile(`${dir}/file`, "");
    const userFile = `${dir}/file/known_hosts`; // its parent is a file
    const warnings: string[] = [];
    await verifyHostKey({
      host: HOST,
      port: PORT,
      policy: "tofu",
      knownHostsFiles: [userFile],
      userKnownHostsFile: userFile,
      warn: (line) => warnings.push(line),
      info: (line) => assert.fail(`unexpected info: ${line}`),
    }, blob(ED_A));
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0],
      /^Cannot add host key to .*\/file\/known_hosts: .*\(connecting anyway\)$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("verifyHostKey() refuses a key of another type than the known one", async () => {
  const setup = { user: `${TOKEN} ecdsa-sha2-nistp256 ${EC_A}\n` };
  const out = await run({ ...setup, policy: "tofu" }, ED_A);
  assert.equal(
    firstLine(out.error),
    `Host key for example.com:2222 does not match the known key type(s) (offered ssh-ed25519 ${ED_A_FP}, expected ecdsa-sha2-nistp256 ${EC_A_FP} (${out.userFile}:1)): refusing to connect`,
  );
  assert.equal(out.user, setup.user);
});

Deno.test("verifyHostKey() names every expected key and file of a mismatch", async () => {
  const out = await run({
    policy: "strict",
    user: `${TOKEN} ssh-ed25519 ${ED_B}\n`,
    system: `# header\n*.example.com ecdsa-sha2-nistp256 ${EC_A}\n`,
    host: "www.example.com",
    port: 22,
  }, ED_A);
  assert.ok(out.error);
  const lines = out.error.message.split("\n");
  assert.match(lines[0], /^Host key for www\.example\.com:22 does not match/);
  assert.ok(lines.includes(`Offered:  ssh-ed25519 ${ED_A_FP}`));
  assert.ok(lines.includes(`Expected: ecdsa-sha2-nistp256 ${EC_A_FP} (${out.systemFile}:2)`));
  assert.ok(lines.includes(`  ssh-keygen -R "www.example.com" -f "${out.systemFile}"`));
  assert.ok(!out.error.message.includes(ED_B_FP), "the user file's line is for another port");
});

Deno.test("verifyHostKey() with policy advisory warns on every line of a mismatch", async () => {
  const out = await run({ ...STATES.mismatch, policy: "advisory" }, ED_A);
  assert.deepEqual(out.warnings, [
    "WARNING: the host key for example.com:2222 has changed; connecting anyway (advisory policy), the new key is not saved",
    `WARNING: offered:  ssh-ed25519 ${ED_A_FP}`,
    `WARNING: expected: ssh-ed25519 ${ED_B_FP} (${out.userFile}:2)`,
    "WARNING: someone may be intercepting this connection (man-in-the-middle attack)",
  ]);
  assert.deepEqual(out.infos, []);
});

Deno.test("verifyHostKey() with policy advisory refuses a revoked key", async () => {
  const out = await run(
    { policy: "advisory", system: `@revoked other ssh-ed25519 ${ED_A}\n` },
    ED_A,
  );
  assert.match(firstLine(out.error), /is revoked/);
  assert.equal(out.user, undefined);
});

Deno.test("verifyHostKey() writes IPv6 hosts in bracket form", async () => {
  const out = await run({ policy: "tofu", host: "::1" }, ED_A);
  assert.equal(out.user, `[::1]:2222 ssh-ed25519 ${ED_A}\n`);
  assert.match(out.infos[0], /^Added host key for \[::1\]:2222 /);
  const [entry] = parseKnownHosts(out.user, "kh");
  assert.equal(entry.hosts, "[::1]:2222");
});

Deno.test("verifyHostKey() refuses a malformed key blob", async () => {
  const out = await run({ policy: "advisory" }, "AAAA");
  assert.match(
    firstLine(out.error),
    /^Cannot verify the host key of example\.com:2222: Cannot read key type/,
  );
  assert.equal(out.user, undefined);
});
