/**
 * Where a local listener binds.
 *
 * - Default (no -g, no address): loopback only, 127.0.0.1 and ::1, on the same
 *   port. A missing IPv6 loopback is not an error.
 * - `-g` without an address, or `*`: every interface ("::" first, which is
 *   dual-stack on Linux; "0.0.0.0" too where it is not).
 * - `localhost`: both loopbacks (Deno would bind only 127.0.0.1).
 * - Any other address: exactly that one.
 */
import { WarrenError } from "../errors.ts";
import { hostPort } from "../config/forward.ts";

/** The addresses to try: the first must succeed, the rest are best effort. */
export function bindAddresses(
  address: string | undefined,
  gateway: boolean,
): string[] {
  if (address === undefined) {
    return gateway ? ["::", "0.0.0.0"] : ["127.0.0.1", "::1"];
  }
  if (address === "*") return ["::", "0.0.0.0"];
  if (address === "localhost") return ["127.0.0.1", "::1"];
  return [address];
}

export function isLoopback(address: string): boolean {
  return address === "::1" || address.startsWith("127.") ||
    address === "localhost";
}

function bindError(address: string, port: number, err: unknown): WarrenError {
  const why = err instanceof Deno.errors.AddrInUse
    ? "address already in use"
    : err instanceof Deno.errors.PermissionDenied
    ? "permission denied"
    : err instanceof Deno.errors.AddrNotAvailable
    ? "address not available on this host"
    : err instanceof Error
    ? err.message
    : String(err);
  return new WarrenError(
    "bind",
    `Cannot listen on ${hostPort(address, port)}: ${why}`,
  );
}

/** Bind every address on one port; the first address decides the port. */
export function listenAll(
  addresses: string[],
  port: number,
): Deno.TcpListener[] {
  const listeners: Deno.TcpListener[] = [];
  for (const [i, hostname] of addresses.entries()) {
    const p = listeners.length > 0 ? listeners[0].addr.port : port;
    try {
      listeners.push(Deno.listen({ hostname, port: p, transport: "tcp" }));
    } catch (err) {
      // The first one must work; later ones may be covered already (dual
      // stack) or absent (no IPv6 loopback).
      if (i === 0) {
        // "::" may be unavailable (no IPv6): fall back to the next address.
        if (addresses.length > 1 && hostname === "::") continue;
        throw bindError(hostname, port, err);
      }
      if (listeners.length === 0) throw bindError(hostname, port, err);
    }
  }
  return listeners;
}
