/**
 * `<default-settings>` children, also allowed in a `<profile>` where they
 * override the defaults for that profile: algorithm lists, authentication
 * methods, timers, host key policy, compression.
 */
import { parseProxyRules, type ProxyRule } from "../proxy_rules.ts";
import type { AuthMethod, Settings, Source } from "./model.ts";
import type { Attrs, ReadContext } from "./read_context.ts";
import type { XmlElement } from "./xml_tree.ts";
import { type AlgorithmKind, supportedAlgorithms } from "../ssh_algorithms.ts";
import type { HostKeyPolicy } from "../host_key_policy.ts";

/** warren's defaults where the file says nothing. */
export const SETTINGS_DEFAULTS: Readonly<Settings> = Object.freeze({
  user: undefined,
  // The command line's default (ServerAliveInterval 30): the broker must
  // notice a dead connection to reopen it.
  keepaliveInterval: 30,
  // The command line's default; the timer also covers the handshake up to the
  // host key, not only the TCP connect Tectia's 5 s is for.
  tcpConnectTimeout: 15,
  // Tectia's default: a connection with no channel lingers 5 s for reuse.
  idleTimeout: 5,
  hostKeyPolicy: "ask",
  authMethods: ["publickey", "keyboard-interactive", "password"] as AuthMethod[],
  ciphers: [] as string[],
  macs: [] as string[],
  kexs: [] as string[],
  hostKeyAlgorithms: [] as string[],
});

export const HOST_KEY_POLICIES: readonly HostKeyPolicy[] = ["strict", "ask", "tofu", "advisory"];

/** The largest time warren accepts, in seconds (what a timer can hold). */
export const MAX_SECONDS = 2_147_483;

/** A password source found inside `<auth-password>`, and where. */
export interface PasswordSlot {
  source?: string;
  at?: Source;
}

export function copySettings(s: Readonly<Settings>): Settings {
  return {
    ...s,
    authMethods: [...s.authMethods],
    ciphers: [...s.ciphers],
    macs: [...s.macs],
    kexs: [...s.kexs],
    hostKeyAlgorithms: [...s.hostKeyAlgorithms],
  };
}

export const SETTINGS_ONCE = [
  "ciphers",
  "macs",
  "kexs",
  "hostkey-algorithms",
  "authentication-methods",
  "compression",
  "proxy",
  "idle-timeout",
  "tcp-connect-timeout",
  "keepalive-interval",
  "server-authentication-methods",
];

type Handlers = Record<string, (el: XmlElement) => void>;

/** Handlers that read settings children of an element into `s`. */
export function settingsHandlers(ctx: ReadContext, s: Settings, password: PasswordSlot): Handlers {
  /** `time="SECONDS"` (required) on a childless element. */
  const seconds = (el: XmlElement, a: Attrs) => {
    ctx.children(el, {});
    if (!a.has("time")) ctx.fail(el.source, `<${el.name}> needs time="SECONDS"`);
    return a.int("time", 0, MAX_SECONDS, 0);
  };
  return {
    ciphers: (el) => s.ciphers = algorithms(ctx, el, "cipher"),
    macs: (el) => s.macs = algorithms(ctx, el, "mac"),
    kexs: (el) => s.kexs = algorithms(ctx, el, "kex"),
    "hostkey-algorithms": (el) => s.hostKeyAlgorithms = algorithms(ctx, el, "hostkey-algorithm"),
    "authentication-methods": (el) => s.authMethods = authMethods(ctx, el, password),
    "idle-timeout": (el) => {
      const a = ctx.attrs(el, ["type", "time"]);
      a.oneOf("type", ["connection"], "connection");
      s.idleTimeout = seconds(el, a);
    },
    "tcp-connect-timeout": (el) => s.tcpConnectTimeout = seconds(el, ctx.attrs(el, ["time"])),
    "keepalive-interval": (el) => s.keepaliveInterval = seconds(el, ctx.attrs(el, ["time"])),
    "server-authentication-methods": (el) => s.hostKeyPolicy = hostKeyPolicy(ctx, el),
    compression: (el) => {
      const a = ctx.attrs(el, ["name", "level"]);
      ctx.children(el, {});
      const name = a.oneOf("name", ["none", "zlib"], "none");
      // The level is accepted and not used: ssh2's stream compresses at zlib's default.
      a.int("level", 0, 9, 6);
      if (name === "zlib") s.compression = true;
      else if (s.compression) s.compression = false; // a profile turning the default's off
    },
    proxy: (el) => {
      const a = ctx.attrs(el, ["ruleset"]);
      ctx.children(el, {});
      const ruleset = a.str("ruleset") ?? "";
      let rules: ProxyRule[];
      try {
        rules = parseProxyRules(ruleset);
      } catch (err) {
        ctx.fail(a.source("ruleset"), `bad ruleset: ${(err as Error).message}`);
      }
      if (rules.length === 0) delete s.proxy;
      else s.proxy = { ruleset, rules };
    },
  };
}

function algorithms(ctx: ReadContext, el: XmlElement, kind: AlgorithmKind): string[] {
  ctx.attrs(el, []);
  const names: string[] = [];
  const seen = new Map<string, Source>();
  let listed = 0;
  ctx.children(el, {
    [kind]: (child) => {
      const a = ctx.attrs(child, ["name"]);
      ctx.children(child, {});
      const name = a.required("name");
      const first = seen.get(name);
      if (first) {
        ctx.fail(
          a.source("name"),
          `${kind} '${name}' listed twice (first at ${first.line}:${first.col})`,
        );
      }
      seen.set(name, a.source("name"));
      listed++;
      if (supportedAlgorithms(kind).includes(name)) names.push(name);
      else a.unsupported("name", `it does not implement this ${kind}`, "warning");
    },
  });
  if (listed > 0 && names.length === 0) {
    ctx.fail(
      el.source,
      `<${el.name}> names no ${kind} warren implements (it has: ` +
        `${supportedAlgorithms(kind).join(", ")})`,
    );
  }
  return names;
}

const LEGACY_METHODS: Record<string, AuthMethod | "unsupported"> = {
  publickey: "publickey",
  password: "password",
  "keyboard-interactive": "keyboard-interactive",
  hostbased: "unsupported",
  "gssapi-with-mic": "unsupported",
};

function authMethods(ctx: ReadContext, el: XmlElement, password: PasswordSlot): AuthMethod[] {
  ctx.attrs(el, []);
  const methods: AuthMethod[] = [];
  const where = new Map<AuthMethod, Source>();
  const add = (child: XmlElement, m: AuthMethod) => {
    const first = where.get(m);
    if (first) {
      ctx.fail(
        child.source,
        `authentication method ${m} listed twice (first at ${first.line}:${first.col})`,
      );
    }
    where.set(m, child.source);
    methods.push(m);
  };
  const bare = (m: AuthMethod) => (child: XmlElement) => {
    ctx.attrs(child, []);
    ctx.children(child, {});
    add(child, m);
  };
  ctx.children(
    el,
    {
      "auth-publickey": (child) => {
        ctx.attrs(child, []);
        ctx.children(child, {}, [], "auth-publickey");
        add(child, "publickey");
      },
      "auth-keyboard-interactive": bare("keyboard-interactive"),
      "auth-password": (child) => {
        ctx.attrs(child, []);
        ctx.children(child, { password: (p) => readPassword(ctx, p, password) }, ["password"]);
        add(child, "password");
      },
      "authentication-method": (child) => {
        const a = ctx.attrs(child, ["name"]);
        ctx.children(child, {});
        const name = a.oneOf("name", Object.keys(LEGACY_METHODS), "publickey");
        const m = LEGACY_METHODS[name];
        if (m === "unsupported") {
          a.unsupported("name", `it does not do ${name} authentication`, "warning");
        } else add(child, m);
      },
    },
    [],
    "authentication-methods",
  );
  if (methods.length === 0) {
    ctx.fail(
      el.source,
      "<authentication-methods> lists no method warren supports " +
        "(auth-publickey, auth-keyboard-interactive, auth-password)",
    );
  }
  return methods;
}

/** `<password file="PATH"/>` or `<password command="CMD"/>` → file:// or extprog://. */
export function readPassword(ctx: ReadContext, el: XmlElement, slot: PasswordSlot): void {
  if (slot.at) {
    ctx.fail(el.source, `a second <password> (first at ${slot.at.line}:${slot.at.col})`);
  }
  const a = ctx.attrs(el, ["file", "command", "string"]);
  ctx.children(el, {});
  if (a.has("string")) {
    a.unsupported(
      "string",
      "a password written in the config can be read by whoever reads the config; " +
        'keep it in a file (file="PATH", mode 0600) or a program (command="...")',
      "error",
      { secret: true },
    );
    return;
  }
  if (a.has("file") === a.has("command")) {
    ctx.fail(el.source, '<password> needs exactly one of file="PATH" or command="COMMAND"');
  }
  slot.source = a.has("file")
    ? `file://${ctx.path(a.required("file"))}`
    : `extprog://${a.required("command")}`;
  slot.at = el.source;
}

function hostKeyPolicy(ctx: ReadContext, el: XmlElement): HostKeyPolicy {
  ctx.attrs(el, []);
  // With no <auth-server-publickey> the file allows no plain host keys: only
  // keys already known are accepted (fails closed).
  let policy: HostKeyPolicy = "strict";
  let publickey: Source | undefined;
  const once = (child: XmlElement) => {
    if (publickey) {
      ctx.fail(
        child.source,
        `host keys (publickey) named twice in <server-authentication-methods> ` +
          `(first at ${publickey.line}:${publickey.col})`,
      );
    }
    publickey = child.source;
  };
  ctx.children(
    el,
    {
      "auth-server-publickey": (child) => {
        const a = ctx.attrs(child, ["policy"]);
        ctx.children(child, {});
        once(child);
        policy = a.oneOf("policy", HOST_KEY_POLICIES, "ask");
      },
      // The form before Tectia 6.1.4, kept by Tectia for old files: publickey
      // is <auth-server-publickey/> (policy ask), certificate is
      // <auth-server-certificate/>.
      "authentication-method": (child) => {
        const a = ctx.attrs(child, ["name"]);
        ctx.children(child, {});
        if (a.oneOf("name", ["publickey", "certificate"], "publickey") === "certificate") {
          a.unsupported(
            "name",
            "it accepts no host certificates; host keys are checked instead",
            "warning",
          );
          return;
        }
        once(child);
        policy = "ask";
      },
    },
    [],
    "server-authentication-methods",
  );
  return policy;
}
