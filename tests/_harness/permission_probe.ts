/**
 * A probe for the permission tests, loaded into a warren run from source with
 * `deno run --preload` (tests/permissions_test.ts). It is no part of warren:
 * nothing in lib/ or main.ts refers to it, and a compiled binary cannot be
 * given a preload module, so users cannot reach it.
 *
 * On SIGUSR2 it tries, inside the running warren and so with warren's
 * permissions as they are at that moment, to start a process, to write a
 * file (WARREN_PROBE_FILE, read at load time), to read the environment and to
 * use FFI, and prints one line on stderr:
 *
 *   probe: run=denied write=denied env=denied ffi=denied
 *
 * "allowed" means the attempt succeeded; "denied" that Deno refused it for
 * want of the permission; anything else is the error's name.
 */
const file = Deno.env.get("WARREN_PROBE_FILE") ?? "";

function outcome(err: unknown): string {
  return err instanceof Deno.errors.NotCapable ? "denied" : `error:${(err as Error).name}`;
}

async function probe(): Promise<string[]> {
  const results: string[] = [];
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).spawn();
    await child.status;
    results.push("run=allowed");
  } catch (err) {
    results.push(`run=${outcome(err)}`);
  }
  try {
    await Deno.writeTextFile(file, "written by the permission probe\n");
    results.push("write=allowed");
  } catch (err) {
    results.push(`write=${outcome(err)}`);
  }
  try {
    Deno.env.get("PATH");
    results.push("env=allowed");
  } catch (err) {
    results.push(`env=${outcome(err)}`);
  }
  try {
    Deno.UnsafePointer.of(new Uint8Array(8));
    results.push("ffi=allowed");
  } catch (err) {
    results.push(`ffi=${outcome(err)}`);
  }
  return results;
}

Deno.addSignalListener("SIGUSR2", () => {
  probe().then((r) => {
    Deno.stderr.writeSync(new TextEncoder().encode(`probe: ${r.join(" ")}\n`));
  });
});
