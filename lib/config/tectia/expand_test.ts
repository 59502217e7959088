import assert from "node:assert/strict";
import { escapeExpansion, expand, type ExpandContext, ExpandError } from "./expand.ts";

const VARS: Record<string, string> = { HOST: "db.example", EMPTY: "", PORT: "2222", B: "bee" };
const ctx: ExpandContext = { env: (n) => VARS[n], user: "ann", home: "/home/ann" };
const x = (value: string) => expand(value, ctx);

Deno.test("expand(): $VAR and ${VAR} are the variable, or empty when unset", () => {
  assert.equal(x("$HOST:$PORT"), "db.example:2222");
  assert.equal(x("${HOST}x"), "db.examplex");
  assert.equal(x("a$NOPE.b"), "a.b");
  assert.equal(x("${NOPE}"), "");
});

Deno.test("expand(): ${VAR:-default} takes the default when unset or empty, itself expanded", () => {
  assert.equal(x("${NOPE:-22}"), "22");
  assert.equal(x("${EMPTY:-fallback}"), "fallback");
  assert.equal(x("${PORT:-22}"), "2222");
  assert.equal(x("${NOPE:-${B}-x}"), "bee-x");
  assert.equal(x("${NOPE:-%homedir%/k}"), "/home/ann/k");
  assert.equal(x("${NOPE:-}"), "");
});

Deno.test("expand(): %VAR% is the variable, or stays as written when unset", () => {
  assert.equal(x("%HOST%"), "db.example");
  assert.equal(x("%NOPE%/x"), "%NOPE%/x");
  assert.equal(x("100%"), "100%");
  assert.equal(x("50% off"), "50% off");
});

Deno.test("expand(): %USERNAME%, %HOMEDIR% (any case), %U and %D are the user and home", () => {
  assert.equal(x("%USERNAME%"), "ann");
  assert.equal(x("%username%@%homedir%"), "ann@/home/ann");
  assert.equal(x("%HomeDir%/.ssh"), "/home/ann/.ssh");
  assert.equal(x("%U:%D"), "ann:/home/ann");
});

Deno.test("expand(): %G, %IU and %IG are refused, not left in a path", () => {
  for (const token of ["%G", "%IU", "%IG"]) {
    assert.throws(() => x(`/run/${token}/k`), {
      name: "ExpandError",
      message: `${token} is not supported (warren does not look up group names or numeric ids)`,
    });
    assert.throws(() => x(token), ExpandError);
  }
});

Deno.test("expand(): $$ and %% are a literal $ and %; a lone $ stays", () => {
  assert.equal(x("$$HOME %%HOST%%"), "$HOME %HOST%");
  assert.equal(x("cost: 5$ or $"), "cost: 5$ or $");
  assert.equal(x("$1"), "$1");
});

Deno.test("expand(): an unterminated ${ or a bad name inside ${} is an error", () => {
  assert.throws(() => x("${HOST"), { message: "unterminated ${ in '${HOST'" });
  assert.throws(() => x("${1x}"), { message: "bad variable reference ${1x} in '${1x}'" });
  assert.throws(() => x("${A B}"), ExpandError);
});

Deno.test("escapeExpansion(): expand gives every string back unchanged", () => {
  const alphabet = ["$", "%", "{", "}", ":-", "HOST", "U", "D", "IU", "a", " ", "/"];
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 2000; i++) {
    let s = "";
    for (let n = Math.floor(next() * 12); n > 0; n--) {
      s += alphabet[Math.floor(next() * alphabet.length)];
    }
    assert.equal(x(escapeExpansion(s)), s, JSON.stringify(s));
  }
});
