/**
 * Reaching a host through jump hosts (-J / ProxyJump, or a profile's
 * gateway-profile chain) for a one-off client run: connect to the first hop, open a direct-tcpip
 * channel from it to the next hop's host and port, and run the next SSH
 * connection over that channel (ssh2's `sock`), and so on. Each hop's host
 * key is checked against its own host name and port, as typed, before any
 * authentication to it. A jump host's failure says which hop it was
 * ("... (jump host 2 of 3)").
 *
 * The returned connection is the last hop's; closing it (or losing it)
 * closes the hops before it, innermost first. A lost hop takes the ones
 * behind it down, since their transport is its channel.
 *
 * The broker does the same with shared connections (lib/profiles/link.ts).
 */
import { hostPort } from "../config/forward.ts";
import { messageOf, WarrenError } from "../errors.ts";
import { type ConnectOptions, connectSsh, type SshConnection } from "./connection.ts";

/** Open a channel through `via` to `hop` and connect over it. */
export async function connectVia(via: SshConnection, hop: ConnectOptions): Promise<SshConnection> {
  let sock;
  try {
    sock = await via.openDirect("127.0.0.1", 0, hop.host, hop.port);
  } catch (err) {
    throw new WarrenError(
      "connect",
      `Cannot reach ${hostPort(hop.host, hop.port)} through ${via.label}: ${messageOf(err)}`,
      { cause: err },
    );
  }
  return await connectSsh({ ...hop, sock });
}

/**
 * A jump host's failure, saying which hop it was at the end of its first
 * line: "Cannot connect to bastion:22: connection refused (jump host 1 of 2)".
 */
function namingHop(err: unknown, index: number, count: number): WarrenError {
  const where = ` (jump host ${index + 1} of ${count})`;
  const [first, ...rest] = messageOf(err).split("\n");
  const message = [first + where, ...rest].join("\n");
  return err instanceof WarrenError
    ? new WarrenError(err.kind, message, { cause: err.cause })
    : new WarrenError("connect", message, { cause: err });
}

/** Connect through `hops` (outermost first, the target last). */
export async function connectThrough(hops: ConnectOptions[]): Promise<SshConnection> {
  if (hops.length === 0) throw new TypeError("Cannot connect: no hops");
  const opened: SshConnection[] = [];
  try {
    for (const [i, hop] of hops.entries()) {
      const prev = opened.at(-1);
      try {
        opened.push(prev ? await connectVia(prev, hop) : await connectSsh(hop));
      } catch (err) {
        throw i < hops.length - 1 ? namingHop(err, i, hops.length - 1) : err;
      }
    }
  } catch (err) {
    for (const c of opened.reverse()) await c.close();
    throw err;
  }
  const target = opened.at(-1)!;
  const gateways = opened.slice(0, -1).reverse();
  if (gateways.length === 0) return target;
  const closeGateways = async () => {
    for (const c of gateways) await c.close();
  };
  // Lost from under us: the hops before it go too. Closed by us: wait for them.
  target.closed.then(closeGateways);
  const closeTarget = target.close.bind(target);
  target.close = async () => {
    await closeTarget();
    await closeGateways();
  };
  return target;
}
