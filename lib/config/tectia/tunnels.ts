/**
 * `<profile><tunnels>` (`<local-tunnel>`, `<remote-tunnel>`) and the shared
 * attributes of `<static-tunnels><tunnel>`:
 *
 *   type="tcp|ftp|socks" listen-address="ADDR" listen-port="N"
 *   (static tunnels also type="socks-proxy": socks routed by <filter-engine>)
 *   dst-host="HOST" dst-port="N" allow-relay="yes|no"
 *
 * allow-relay="no" (the default) keeps the listener to local clients: with
 * no listen-address it binds loopback, and a listen-address that is not a
 * loopback address is refused rather than silently narrowed or widened.
 */
import type { TunnelConfig } from "./model.ts";
import type { Attrs, ReadContext } from "./read_context.ts";
import type { XmlElement } from "./xml_tree.ts";

const TUNNEL_ATTRS = [
  "type",
  "listen-address",
  "listen-port",
  "dst-host",
  "dst-port",
  "allow-relay",
];

export function readTunnels(ctx: ReadContext, el: XmlElement): TunnelConfig[] {
  ctx.attrs(el, []);
  const tunnels: TunnelConfig[] = [];
  ctx.children(el, {
    "local-tunnel": (t) => tunnels.push(readTunnel(ctx, t, "local")[0]),
    "remote-tunnel": (t) => tunnels.push(readTunnel(ctx, t, "remote")[0]),
  });
  return tunnels;
}

/** One tunnel element; `extra` names further attributes the caller reads. */
export function readTunnel(
  ctx: ReadContext,
  el: XmlElement,
  direction: "local" | "remote",
  extra: readonly string[] = [],
  socksProxy = false,
): [TunnelConfig, Attrs] {
  const a = ctx.attrs(el, [...TUNNEL_ATTRS, ...extra]);
  ctx.children(el, {});
  const filtered = a.str("type")?.toLowerCase() === "socks-proxy";
  if (filtered && !socksProxy) {
    ctx.fail(
      a.source("type"),
      'type="socks-proxy" (the filter engine\'s SOCKS proxy) is for <static-tunnels> only: ' +
        'use type="socks"',
    );
  }
  const type = filtered ? "socks" : a.oneOf("type", ["tcp", "ftp", "socks"], "tcp");
  const allowRelay = a.bool("allow-relay", false);
  const listenAddress = address(a, "listen-address");
  if (listenAddress !== undefined && !allowRelay && !isLoopback(listenAddress)) {
    ctx.fail(
      a.source("listen-address"),
      `listen-address ${listenAddress} is not a loopback ` +
        'address, but allow-relay is "no" (local clients only): set allow-relay="yes" to ' +
        "accept other hosts, or leave listen-address out",
    );
  }
  if (!a.has("listen-port")) ctx.fail(el.source, `<${el.name}> needs listen-port="PORT"`);
  // Port 0 makes sense only remotely: the server picks one and warren reports it.
  const listenPort = a.int("listen-port", direction === "remote" ? 0 : 1, 65535, 0);
  const tunnel: TunnelConfig = { direction, type, listenPort, allowRelay, source: el.source };
  if (filtered) tunnel.filtered = true;
  if (listenAddress !== undefined) tunnel.listenAddress = listenAddress;
  if (type === "socks") {
    for (const name of ["dst-host", "dst-port"]) {
      const v = a.str(name);
      if (v !== undefined && v !== "" && v !== "0") {
        a.bad(name, v, "nothing: a socks tunnel's clients name their own destinations");
      }
    }
  } else {
    const dstHost = address(a, "dst-host");
    if (dstHost === undefined) ctx.fail(el.source, `<${el.name}> needs dst-host="HOST"`);
    if (!a.has("dst-port")) ctx.fail(el.source, `<${el.name}> needs dst-port="PORT"`);
    tunnel.dstHost = dstHost;
    tunnel.dstPort = a.int("dst-port", 1, 65535, 0);
  }
  return [tunnel, a];
}

/** A host name or address ([v6] brackets removed); undefined if absent or empty. */
function address(a: Attrs, name: string): string | undefined {
  const v = a.str(name);
  if (v === undefined || v === "") return undefined;
  const bare = v.replace(/^\[(.*)\]$/, "$1");
  if (bare === "" || /[\s\[\]\/]/.test(bare)) a.bad(name, v, "a host name or address");
  return bare;
}

export function isLoopback(address: string): boolean {
  const a = address.toLowerCase();
  return a === "localhost" || /^127\.\d+\.\d+\.\d+$/.test(a) || a === "::1" ||
    /^(0{1,4}:){7}0{0,3}1$/.test(a) || a === "::ffff:127.0.0.1";
}
