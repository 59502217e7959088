/**
 * The `ignore` flag of a test file whose peers may be missing: when `reason`
 * is set, one line on stderr says what is skipped and why, so a skipped run
 * never passes silently.
 */
export function skipWhen(what: string, reason: string | undefined): boolean {
  if (reason !== undefined) console.error(`skipping ${what}: ${reason}`);
  return reason !== undefined;
}

/** The reason inside a `{ ok, reason }` support check, or undefined when it is ok. */
export function unsupportedBy(
  support: { ok: true } | { ok: false; reason: string },
): string | undefined {
  return support.ok ? undefined : support.reason;
}
