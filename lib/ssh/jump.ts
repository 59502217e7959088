/**
 * Reaching a host through jump hosts (a profile's gateway-profile chain) for
 * a one-off client run: connect to the first hop, open a direct-tcpip
 * channel from it to the next hop's host and port, and run the next SSH
 * connection over that channel (ssh2's `sock`), and so on. Each hop's host
 * key is checked against its own host name and port, as typed.
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

/** Connect through `hops` (outermost first, the target last). */
export async function connectThrough(hops: ConnectOptions[]): Promise<SshConnection> {
  if (hops.length === 0) throw new TypeError("Cannot connect: no hops");
  const opened: SshConnection[] = [];
  try {
    for (const hop of hops) {
      const prev = opened.at(-1);
      opened.push(prev ? await connectVia(prev, hop) : await connectSsh(hop));
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
