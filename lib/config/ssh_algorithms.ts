/**
 * The algorithm names ssh2 implements on this machine (its own lists, which
 * already leave out what node:crypto lacks), so that a config naming one it
 * does not have is caught when the file is read, not at connect time.
 */
// ssh2 ships no types for this module: the four lists are string arrays.
import constants from "ssh2/lib/protocol/constants.js";

export type AlgorithmKind = "cipher" | "mac" | "kex" | "hostkey-algorithm";

const DEFAULTS: Record<AlgorithmKind, readonly string[]> = {
  cipher: constants.DEFAULT_CIPHER,
  mac: constants.DEFAULT_MAC,
  kex: constants.DEFAULT_KEX,
  "hostkey-algorithm": constants.DEFAULT_SERVER_HOST_KEY,
};

const SUPPORTED: Record<AlgorithmKind, readonly string[]> = {
  cipher: constants.SUPPORTED_CIPHER,
  mac: constants.SUPPORTED_MAC,
  kex: constants.SUPPORTED_KEX,
  "hostkey-algorithm": constants.SUPPORTED_SERVER_HOST_KEY,
};

export function supportedAlgorithms(kind: AlgorithmKind): readonly string[] {
  return SUPPORTED[kind];
}

/** ssh2's default preference for `kind`, most preferred first. */
export function defaultAlgorithms(kind: AlgorithmKind): readonly string[] {
  return DEFAULTS[kind];
}

/**
 * An algorithm list as OpenSSH's Ciphers, MACs, KexAlgorithms and
 * HostKeyAlgorithms take it: a comma-separated list that replaces the
 * default, or one that starts with `+` (append to the default), `-` (remove
 * from it; `*` and `?` wildcards allowed) or `^` (put first). Names must be
 * ones ssh2 implements here; `unknown` lists those that are not.
 */
export function resolveAlgorithmList(
  kind: AlgorithmKind,
  text: string,
  base: readonly string[] = DEFAULTS[kind],
): { list: string[]; unknown: string[] } {
  const op = /^[+\-^]/.test(text) ? text[0] : "";
  const names = text.slice(op.length).split(",").map((n) => n.trim()).filter((n) => n !== "");
  const known = SUPPORTED[kind];
  if (op === "-") {
    const patterns = names.map((n) =>
      new RegExp(
        `^${n.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`,
      )
    );
    return { list: base.filter((a) => !patterns.some((p) => p.test(a))), unknown: [] };
  }
  const unknown = names.filter((n) => !known.includes(n));
  if (op === "+") return { list: [...base, ...names.filter((n) => !base.includes(n))], unknown };
  if (op === "^") return { list: [...names, ...base.filter((n) => !names.includes(n))], unknown };
  return { list: names, unknown };
}
