/**
 * The algorithm names ssh2 implements on this machine (its own lists, which
 * already leave out what node:crypto lacks), so that a config naming one it
 * does not have is caught when the file is read, not at connect time.
 */
// ssh2 ships no types for this module: the four lists are string arrays.
import constants from "ssh2/lib/protocol/constants.js";

export type AlgorithmKind = "cipher" | "mac" | "kex" | "hostkey-algorithm";

const SUPPORTED: Record<AlgorithmKind, readonly string[]> = {
  cipher: constants.SUPPORTED_CIPHER,
  mac: constants.SUPPORTED_MAC,
  kex: constants.SUPPORTED_KEX,
  "hostkey-algorithm": constants.SUPPORTED_SERVER_HOST_KEY,
};

export function supportedAlgorithms(kind: AlgorithmKind): readonly string[] {
  return SUPPORTED[kind];
}
