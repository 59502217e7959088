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
// CHANNEL_DATA sealed from where the data lies, not copied into the packet first.
import "./channel_data.ts";
// ECDSA keys whose private scalar has a leading zero byte sign under Deno.
import "./ecdsa_scalar.ts";
// The client and the key parser only: ssh2's index also loads its server,
// its key generation and its HTTP agents (node:http, https and tls), which a
// client never uses (9 ms of start-up, 1 MiB). `warren serve` takes the
// server from ssh2_server.ts.
import clientModule from "ssh2/lib/client.js";
import keyParser from "ssh2/lib/protocol/keyParser.js";
// @ts-types="@types/ssh2"
import type * as Ssh2 from "ssh2";

export const Client = clientModule as unknown as typeof Ssh2.Client;
export const utils = { parseKey: keyParser.parseKey as typeof Ssh2.utils.parseKey };
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
export type Client = InstanceType<typeof Client>;
