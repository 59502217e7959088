/**
 * `warren config dump`: a BrokerConfig written back as ssh-broker-config.xml,
 * with every default filled in and every variable already expanded. `$` and
 * `%` in values are doubled so that reading the dump expands nothing again:
 * parse → dump → parse gives the same model (tested).
 *
 * <default-settings> is written in full; a profile repeats only what differs
 * from it. Algorithm lists are written only when set (empty = warren's own).
 */
import type { BrokerConfig, ProfileConfig, Settings, TunnelConfig } from "./model.ts";
import { escapeExpansion } from "./expand.ts";

type AttrList = [string, string | number | boolean | undefined][];

class Writer {
  lines: string[] = [];
  depth = 0;
  line(text: string): void {
    this.lines.push("  ".repeat(this.depth) + text);
  }
  empty(name: string, attrs: AttrList = []): void {
    this.line(`<${name}${attributes(attrs)}/>`);
  }
  /** An element with children written by `body`; nothing if `body` writes none and `keep` is false. */
  block(name: string, attrs: AttrList, body: () => void, keep = false): void {
    const mark = this.lines.length;
    this.line(`<${name}${attributes(attrs)}>`);
    this.depth++;
    body();
    this.depth--;
    if (this.lines.length === mark + 1) {
      this.lines.length = mark;
      if (keep) this.empty(name, attrs);
      return;
    }
    this.line(`</${name}>`);
  }
}

function attributes(attrs: AttrList): string {
  return attrs
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) =>
      ` ${k}="${escapeValue(typeof v === "boolean" ? (v ? "yes" : "no") : String(v))}"`
    )
    .join("");
}

function escapeValue(value: string): string {
  return escapeExpansion(value)
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("\n", "&#10;")
    .replaceAll("\r", "&#13;")
    .replaceAll("\t", "&#9;");
}

/** What a dump can say beside the config that the model does not hold. */
export interface DumpNotes {
  /** About a Tectia host key directory (what it holds), for the comment above it. */
  hostKeyDirectory?: (path: string) => string | undefined;
}

const comment = (text: string) => `<!-- ${text.replaceAll("--", "- -")} -->`;

export function dumpBrokerConfig(config: BrokerConfig, notes: DumpNotes = {}): string {
  const w = new Writer();
  w.line('<?xml version="1.0" encoding="UTF-8"?>');
  w.line('<!DOCTYPE secsh-broker SYSTEM "ssh-broker-ng-config-1.dtd">');
  w.line(
    `<!-- warren config dump of ${config.file.replaceAll("--", "- -")}: defaults filled in, ` +
      "variables expanded -->",
  );
  w.block("secsh-broker", [["version", "1.0"]], () => {
    w.block("general", [], () => {
      if (config.knownHostsFiles.length === 0) w.empty("known-hosts", [["file", ""]]);
      for (const f of config.knownHostsFiles) {
        if (!f.endsWith("/")) {
          w.empty("known-hosts", [["file", f]]);
          continue;
        }
        const about = notes.hostKeyDirectory?.(f);
        w.line(comment(
          `Tectia host key directory: read by warren, never written${about ? `; ${about}` : ""}`,
        ));
        w.empty("known-hosts", [["directory", f.replace(/(.)\/$/, "$1")]]);
      }
    });
    w.block("default-settings", [["user", config.defaults.user]], () => {
      writeSettings(w, config.defaults);
    }, true);
    w.block("profiles", [], () => {
      for (const p of config.profiles) writeProfile(w, p, config.defaults);
    });
    w.block("static-tunnels", [], () => {
      for (const t of config.staticTunnels) {
        writeTunnel(w, "tunnel", t, [["profile", t.filtered ? undefined : t.profile]]);
      }
    });
    w.block("filter-engine", [], () => {
      for (const r of config.filterRules) {
        w.empty("rule", [
          ["host", r.host],
          ["ip-address", r.ipAddress],
          [
            "ports",
            r.ports &&
            (r.ports.low === r.ports.high ? r.ports.low : `${r.ports.low}-${r.ports.high}`),
          ],
          ["action", r.action.toUpperCase()],
          ["profile-id", r.profileId],
        ]);
      }
    });
    w.block("logging", [], () => {
      const { target, file, severity } = config.logging;
      w.empty("log-target", [["type", target], ["file", file]]);
      w.empty("log-events", [["severity", severity]]);
    });
  });
  return w.lines.join("\n") + "\n";
}

const sameList = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

const AUTH_ELEMENT: Record<string, string> = {
  publickey: "auth-publickey",
  "keyboard-interactive": "auth-keyboard-interactive",
  password: "auth-password",
  hostbased: "auth-hostbased",
  gssapi: "auth-gssapi",
};

/** The settings elements, in the DTD's order; with `base`, only what differs from it. */
function writeSettings(w: Writer, s: Settings, base?: Settings): void {
  const lists: [
    keyof Settings & ("ciphers" | "macs" | "kexs" | "hostKeyAlgorithms"),
    string,
    string,
  ][] = [
    ["ciphers", "ciphers", "cipher"],
    ["macs", "macs", "mac"],
    ["kexs", "kexs", "kex"],
    ["hostKeyAlgorithms", "hostkey-algorithms", "hostkey-algorithm"],
  ];
  for (const [field, outer, inner] of lists) {
    const list = s[field];
    if (base ? sameList(list, base[field]) : list.length === 0) continue;
    w.block(outer, [], () => list.forEach((name) => w.empty(inner, [["name", name]])), true);
  }
  if (!base || !sameList(s.authMethods, base.authMethods)) {
    w.block("authentication-methods", [], () => {
      for (const m of s.authMethods) w.empty(AUTH_ELEMENT[m]);
    });
  }
  if (!base || s.idleTimeout !== base.idleTimeout) {
    w.empty("idle-timeout", [["type", "connection"], ["time", s.idleTimeout]]);
  }
  if (!base || s.tcpConnectTimeout !== base.tcpConnectTimeout) {
    w.empty("tcp-connect-timeout", [["time", s.tcpConnectTimeout]]);
  }
  if (!base || s.keepaliveInterval !== base.keepaliveInterval) {
    w.empty("keepalive-interval", [["time", s.keepaliveInterval]]);
  }
  if (!base || s.hostKeyPolicy !== base.hostKeyPolicy) {
    w.block("server-authentication-methods", [], () => {
      w.empty("auth-server-publickey", [["policy", s.hostKeyPolicy]]);
    });
  }
  if (base ? !!s.compression !== !!base.compression : s.compression) {
    w.empty("compression", [["name", s.compression ? "zlib" : "none"]]);
  }
  if (base ? s.proxy?.ruleset !== base.proxy?.ruleset : s.proxy) {
    w.empty("proxy", [["ruleset", s.proxy?.ruleset ?? "direct://"]]);
  }
}

function writeProfile(w: Writer, p: ProfileConfig, defaults: Settings): void {
  const user = p.settings.user !== defaults.user ? p.settings.user : undefined;
  w.block("profile", [
    ["id", p.id],
    ["name", p.name],
    ["host", p.host],
    ["port", p.port],
    ["connect-on-startup", p.connectOnStartup],
    ["user", user],
    ["gateway-profile", p.gatewayProfile],
  ], () => {
    if (p.hostKeyFile !== undefined) w.empty("hostkey", [["file", p.hostKeyFile]]);
    w.block("user-identities", [], () => {
      for (const f of p.identityFiles) w.empty("identity", [["file", f]]);
    });
    const pw = p.passwordSource;
    if (pw?.startsWith("file://")) w.empty("password", [["file", pw.slice(7)]]);
    else if (pw?.startsWith("extprog://")) w.empty("password", [["command", pw.slice(10)]]);
    writeSettings(w, p.settings, defaults);
    w.block("tunnels", [], () => {
      for (const t of p.tunnels) writeTunnel(w, `${t.direction}-tunnel`, t);
    });
  }, true);
}

function writeTunnel(w: Writer, name: string, t: TunnelConfig, extra: AttrList = []): void {
  w.empty(name, [
    ["type", t.filtered ? "socks-proxy" : t.type],
    ["listen-address", t.listenAddress],
    ["listen-port", t.listenPort],
    ["dst-host", t.dstHost],
    ["dst-port", t.dstPort],
    ["allow-relay", t.allowRelay],
    ...extra,
  ]);
}
