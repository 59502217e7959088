/**
 * ssh2's server side, for `warren serve` (and its key generation, for
 * tests), loaded only by the code that needs it: a client imports
 * ssh2.ts, which loads ssh2's client alone.
 */
// First: warren's changes to ssh2 (ciphers, windows, compression) are made before ssh2 loads.
import "./ssh2.ts";
import serverModule from "ssh2/lib/server.js";
import keygen from "ssh2/lib/keygen.js";
// @ts-types="@types/ssh2"
import type * as Ssh2 from "ssh2";

export const Server = serverModule as unknown as typeof Ssh2.Server;
export type Server = InstanceType<typeof Server>;
export const generateKeyPairSync = keygen
  .generateKeyPairSync as typeof Ssh2.utils.generateKeyPairSync;
