import assert from "node:assert/strict";
import { fileProblem } from "./errors.ts";

/** The error Deno throws reading `path`. */
async function readError(path: string): Promise<unknown> {
  try {
    await Deno.readTextFile(path);
  } catch (err) {
    return err;
  }
  assert.fail(`${path} was readable`);
}

Deno.test("fileProblem: a few words for each way a read fails, without Deno's call details", async () => {
  const dir = await Deno.makeTempDir({ prefix: "warren-errors-" });
  try {
    assert.equal(fileProblem(await readError(`${dir}/missing`)), "no such file");
    assert.equal(fileProblem(await readError(dir)), "is a directory");
    await Deno.writeTextFile(`${dir}/file`, "x");
    const underFile = fileProblem(await readError(`${dir}/file/below`));
    assert.equal(underFile, "Not a directory");
    assert.equal(fileProblem(new Error("something else")), "something else");
    assert.equal(fileProblem("a string"), "a string");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
