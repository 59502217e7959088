/**
 * The signals that stop warren's long-running commands. Windows delivers only
 * Ctrl-C (SIGINT) and Ctrl-Break (SIGBREAK); Deno throws when asked to listen
 * for anything else there, SIGTERM and SIGHUP included.
 */

/**
 * Ctrl-C, SIGTERM and SIGHUP; Ctrl-C and Ctrl-Break on Windows. (The broker
 * takes SIGHUP as "reload" instead.)
 */
export function stopSignals(os: typeof Deno.build.os = Deno.build.os): Deno.Signal[] {
  return os === "windows" ? ["SIGINT", "SIGBREAK"] : ["SIGINT", "SIGTERM", "SIGHUP"];
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
