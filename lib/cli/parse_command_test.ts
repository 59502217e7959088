import assert from "node:assert/strict";
import { UsageError } from "../errors.ts";
import { parseCommand } from "./parse_command.ts";

const options = { port: { type: "string", short: "p" } } as const;

Deno.test("parseCommand: values and positionals as parseArgs gives them", () => {
  const r = parseCommand("serve", {
    args: ["-p", "22", "x"],
    options,
    allowPositionals: true,
    strict: true,
  });
  assert.equal(r.values.port, "22");
  assert.deepEqual(r.positionals, ["x"]);
});

Deno.test("parseCommand: a mistake is a UsageError led by the command, without node's advice", () => {
  const fails = (command: string | undefined, args: string[], message: string) =>
    assert.throws(
      () => parseCommand(command, { args, options, allowPositionals: false, strict: true }),
      (err: unknown) => err instanceof UsageError && err.message === message,
    );
  fails("serve", ["--bogus"], "serve: Unknown option '--bogus'");
  fails(undefined, ["--bogus"], "Unknown option '--bogus'");
  // With positionals allowed, node adds "To specify a positional argument starting with a '-'…".
  assert.throws(
    () => parseCommand("ctl", { args: ["-x"], options, allowPositionals: true, strict: true }),
    (err: unknown) => err instanceof UsageError && err.message === "ctl: Unknown option '-x'",
  );
});

Deno.test("parseCommand: a value that starts with a dash is the value, as getopt takes it", () => {
  const opts = {
    localfwd: { type: "string", short: "L" },
    verbose: { type: "boolean", short: "v" },
    ...options,
  } as const;
  const parse = (...args: string[]) =>
    parseCommand(undefined, { args, options: opts, allowPositionals: true, strict: true });
  assert.equal(parse("-L", "-1:a:1", "h").values.localfwd, "-1:a:1");
  assert.equal(parse("--localfwd", "-1:a:1", "-p", "-2").values.port, "-2");
  assert.deepEqual(parse("-p", "-1", "h", "--", "-x").positionals, ["h", "-x"]);
  const fails = (args: string[], message: string) =>
    assert.throws(
      () => parse(...args),
      (err: unknown) => err instanceof UsageError && err.message === message,
    );
  fails(["-L", "-v", "h"], "Option '-L' needs a value; '-v' is an option");
  fails(["-L", "--port=2", "h"], "Option '-L' needs a value; '--port=2' is an option");
  fails(["h", "-p", "--"], "Option '-p' needs a value");
});
