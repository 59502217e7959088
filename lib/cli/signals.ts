/**
 * The signals that stop warren's long-running commands. Windows delivers only
 * Ctrl-C (SIGINT) and Ctrl-Break (SIGBREAK); Deno throws when asked to listen
 * for anything else there, SIGTERM and SIGHUP included.
 */

/** Ctrl-C, and SIGTERM and SIGHUP (`hangup`) where they exist; Ctrl-Break on Windows. */
export function stopSignals(
  options: { hangup?: boolean; os?: typeof Deno.build.os } = {},
): Deno.Signal[] {
  const { hangup = true, os = Deno.build.os } = options;
  if (os === "windows") return ["SIGINT", "SIGBREAK"];
  return hangup ? ["SIGINT", "SIGTERM", "SIGHUP"] : ["SIGINT", "SIGTERM"];
}

/** Call `onSignal` for each of `signals` that arrives, until the returned function is called. */
export function listenForSignals(
  signals: Deno.Signal[],
  onSignal: (signal: Deno.Signal) => void,
): () => void {
  const handlers = signals.map((s) => [s, () => onSignal(s)] as const);
  for (const [s, h] of handlers) Deno.addSignalListener(s, h);
  return () => {
    for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
  };
}
