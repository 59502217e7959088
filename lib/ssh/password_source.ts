/**
 * Where a password comes from without being typed: `-P file://PATH`,
 * `env://VAR` or `extprog://COMMAND` (the first line of the command's output).
 * The value is never logged and never passed in another process's arguments.
 */
import { fileProblem, UsageError, WarrenError } from "../errors.ts";

export async function readPasswordSource(source: string): Promise<string> {
  const m = /^(file|env|extprog):\/\/(.+)$/s.exec(source);
  if (!m) {
    throw new UsageError(
      "Invalid password source: use file://PATH, env://VAR or extprog://COMMAND",
    );
  }
  const [, scheme, rest] = m;
  if (scheme === "env") {
    const value = Deno.env.get(rest);
    if (value === undefined) {
      throw new WarrenError(
        "auth",
        `Cannot read password: $${rest} is not set`,
      );
    }
    return value;
  }
  if (scheme === "file") {
    try {
      return firstLine(await Deno.readTextFile(rest));
    } catch (err) {
      throw new WarrenError(
        "auth",
        `Cannot read password file ${rest}: ${fileProblem(err)}`,
      );
    }
  }
  const shell = Deno.build.os === "windows" ? ["cmd.exe", "/d", "/s", "/c"] : ["/bin/sh", "-c"];
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(shell[0], {
      args: [...shell.slice(1), rest],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).output();
  } catch (err) {
    throw new WarrenError(
      "auth",
      `Cannot run password program: ${err instanceof Error ? err.message : err}`,
    );
  }
  if (!out.success) {
    throw new WarrenError(
      "auth",
      `Password program exited with status ${out.code}`,
    );
  }
  return firstLine(new TextDecoder().decode(out.stdout));
}

function firstLine(text: string): string {
  const nl = text.search(/\r?\n/);
  return nl < 0 ? text : text.slice(0, nl);
}
