/**
 * `deno task start` runs main.ts in the repository's directory, but the paths
 * a user gives it (`-i key`, `--config FILE`, `config check FILE`, `serve
 * --authorized-keys FILE`) are meant from where the user stands. Deno puts
 * that directory in INIT_CWD for every task; the start task hands it on as
 * WARREN_TASK_CWD, and warren moves there before it reads its arguments.
 *
 * Only the start task sets WARREN_TASK_CWD: INIT_CWD alone is also set for
 * warren run from some other project's npm or deno task, whose relative paths
 * are meant from that project's directory, where the task runs.
 */
import { fileProblem, UsageError } from "../errors.ts";

export const TASK_CWD_ENV = "WARREN_TASK_CWD";

/** Change to the directory the start task was run from, if it was; the variable is then unset. */
export function enterTaskCwd(): void {
  const dir = Deno.env.get(TASK_CWD_ENV);
  if (dir === undefined) return;
  Deno.env.delete(TASK_CWD_ENV); // not for the local command or anything else warren starts
  if (dir === "") return;
  try {
    Deno.chdir(dir);
  } catch (err) {
    throw new UsageError(`Cannot work from ${dir}, where deno task was run: ${fileProblem(err)}`);
  }
}
