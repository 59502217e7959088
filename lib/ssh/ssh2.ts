/**
 * The one place warren imports npm:ssh2, with its types (@types/ssh2 is a
 * types-only package; the runtime is ssh2 1.17.0, pinned in deno.json).
 */
// Must come first: it swaps ssh2's packet ciphers before ssh2 loads.
import "./crypto/hook.ts";
// Also first: it sets the channel window ssh2 copies when it loads.
import "./window.ts";
// Channel.destroy() without the error it builds and drops.
import "./channel_destroy.ts";
// Also first: it swaps ssh2's zlib packet classes for ones that run under Deno.
import "./compression.ts";
// ECDSA keys whose private scalar has a leading zero byte sign under Deno.
import "./ecdsa_scalar.ts";
// @ts-types="@types/ssh2"
import ssh2 from "ssh2";

export const { Client, Server, utils } = ssh2;
// @ts-types="@types/ssh2"
export type {
  AuthContext,
  ClientChannel,
  CompressionAlgorithm,
  Connection,
  ParsedKey,
  PublicKeyAuthContext,
  ServerChannel,
  TcpConnectionDetails,
} from "ssh2";
export type Client = InstanceType<typeof ssh2.Client>;
export type Server = InstanceType<typeof ssh2.Server>;
