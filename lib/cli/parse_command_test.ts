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
