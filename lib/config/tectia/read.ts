/**
 * The element tree of an ssh-broker-config.xml → `BrokerConfig`: every
 * element and attribute checked, defaults filled in, values expanded. Cross
 * references (profile ids, gateway chains, listeners) are checked afterwards
 * by check.ts.
 */
import type {
  BrokerConfig,
  FilterRuleConfig,
  LoggingConfig,
  ProfileConfig,
  Settings,
  StaticTunnelConfig,
} from "./model.ts";
import type { Origins } from "./check.ts";
import type { Attrs, ReadContext } from "./read_context.ts";
import {
  copySettings,
  type PasswordSlot,
  readPassword,
  SETTINGS_DEFAULTS,
  SETTINGS_ONCE,
  settingsHandlers,
} from "./settings.ts";
import { readTunnel, readTunnels } from "./tunnels.ts";
import { readFilterEngine } from "./filter.ts";
import type { XmlElement } from "./xml_tree.ts";
import { readGeneral, readLogging, tectiaDefaultKnownHosts } from "./general.ts";

export function readBrokerConfig(
  root: XmlElement,
  ctx: ReadContext,
): { config: BrokerConfig; origins: Origins } {
  if (root.name !== "secsh-broker") {
    ctx.fail(root.source, `the root element is <${root.name}>; expected <secsh-broker>`);
  }
  const a = ctx.attrs(root, ["version"]);
  // The DTD's 1.0, or the Tectia release a file was written for (6.1, 6.4 in
  // Tectia's z/OS examples): the format is the same, so any version number is read.
  const version = a.str("version");
  if (version !== undefined && !/^\d+(\.\d+)+$/.test(version.trim())) {
    a.bad("version", version, "a version number such as 1.0 or 6.4");
  }
  let knownHostsFiles: string[] | undefined;
  let defaults = copySettings(SETTINGS_DEFAULTS);
  let defaultPassword: string | undefined;
  const profileEls: XmlElement[] = [];
  const staticEls: XmlElement[] = [];
  let logging: LoggingConfig = { target: "stderr", severity: "info" };
  let filterRules: FilterRuleConfig[] = [];
  ctx.children(root, {
    general: (el) => knownHostsFiles = readGeneral(ctx, el),
    "default-settings": (el) => {
      const user = readUser(ctx.attrs(el, ["user"]));
      [defaults, defaultPassword] = readSettingsElement(ctx, el, SETTINGS_DEFAULTS, {});
      if (user !== undefined) defaults.user = user;
    },
    profiles: (el) => {
      ctx.attrs(el, []);
      ctx.children(el, { profile: (p) => profileEls.push(p) });
    },
    "static-tunnels": (el) => {
      ctx.attrs(el, []);
      ctx.children(el, { tunnel: (t) => staticEls.push(t) });
    },
    "filter-engine": (el) => filterRules = readFilterEngine(ctx, el),
    logging: (el) => logging = readLogging(ctx, el),
  }, ["general", "default-settings", "profiles", "static-tunnels", "filter-engine", "logging"]);
  // Profiles after the defaults, wherever <default-settings> stands. A profile
  // that cannot be read is left out; its id still counts as defined, so that
  // references to it add no second error.
  const profiles: ProfileConfig[] = [];
  const profileOrigins: XmlElement[] = [];
  const unreadable: { id: string; el: XmlElement }[] = [];
  for (const el of profileEls) {
    const profile = ctx.guard(() => readProfile(ctx, el, defaults, defaultPassword));
    if (profile) {
      profiles.push(profile);
      profileOrigins.push(el);
    } else {
      const id = el.attrs.find((a) => a.name === "id")?.value;
      if (id !== undefined) unreadable.push({ id, el });
    }
  }
  const staticTunnels: StaticTunnelConfig[] = [];
  const staticOrigins: XmlElement[] = [];
  for (const el of staticEls) {
    const tunnel = ctx.guard(() => readStaticTunnel(ctx, el));
    if (tunnel) {
      staticTunnels.push(tunnel);
      staticOrigins.push(el);
    }
  }
  const config: BrokerConfig = {
    file: ctx.file,
    knownHostsFiles: knownHostsFiles ?? tectiaDefaultKnownHosts(ctx.expansion.home),
    defaults,
    profiles,
    staticTunnels,
    filterRules,
    logging,
    warnings: ctx.warnings,
  };
  return {
    config,
    origins: { profiles: profileOrigins, staticTunnels: staticOrigins, unreadable },
  };
}

/** The children of `<default-settings>` or a `<profile>`, over `base`. */
function readSettingsElement(
  ctx: ReadContext,
  el: XmlElement,
  base: Readonly<Settings>,
  extra: Record<string, (child: XmlElement) => void>,
  password: PasswordSlot = {},
): [Settings, string | undefined] {
  const s = copySettings(base);
  const once = [...SETTINGS_ONCE, ...Object.keys(extra).filter((n) => n !== "password")];
  ctx.children(el, { ...settingsHandlers(ctx, s, password), ...extra }, once, "settings");
  return [s, password.source];
}

/** `user="..."`: a name; empty = the local user; `*` (ask) is refused. */
function readUser(a: Attrs): string | undefined {
  const user = a.str("user");
  if (user === "*") {
    a.unsupported("user", "it does not ask for a user at connect time; name the user");
    return undefined;
  }
  if (user !== undefined && /\s/.test(user)) a.bad("user", user, "a login name");
  return user || undefined;
}

const PROFILE_ATTRS = [
  "id",
  "name",
  "host",
  "port",
  "protocol",
  "host-type",
  "connect-on-startup",
  "user",
  "gateway-profile",
];

function readProfile(
  ctx: ReadContext,
  el: XmlElement,
  defaults: Settings,
  defaultPassword: string | undefined,
): ProfileConfig {
  const a = ctx.attrs(el, PROFILE_ATTRS);
  const id = a.required("id");
  const host = a.required("host");
  if (host === "*") {
    a.unsupported("host", "it does not ask for a host at connect time; name the host");
  }
  if (/\s/.test(host)) a.bad("host", host, "a host name or address");
  a.oneOf("protocol", ["secsh2"], "secsh2");
  if (a.oneOf("host-type", ["default", "windows", "unix"], "default") !== "default") {
    a.unsupported("host-type", "it opens no session, so there is no ASCII transfer", "warning");
  }
  const profile: ProfileConfig = {
    id,
    host: host.replace(/^\[(.*)\]$/, "$1"),
    port: a.int("port", 1, 65535, 22),
    connectOnStartup: a.bool("connect-on-startup", false),
    identityFiles: [],
    settings: defaults,
    tunnels: [],
    source: el.source,
  };
  const name = a.str("name");
  if (name) profile.name = name;
  const gateway = a.str("gateway-profile");
  if (gateway) profile.gatewayProfile = gateway;
  const user = readUser(a);
  const own: PasswordSlot = {};
  // <password> and <auth-password><password> fill one slot: a second is an error.
  const [settings, ownPassword] = readSettingsElement(ctx, el, defaults, {
    hostkey: (h) => {
      const ha = ctx.attrs(h, ["file"]);
      if (h.text !== "") {
        // Tectia's other form: the key itself as a base64 block inside the element.
        ctx.fail(
          h.source,
          "a key written inside <hostkey> is not supported by warren: " +
            'put it in a file and give file="PATH"',
        );
      }
      ctx.children(h, {});
      profile.hostKeyFile = ctx.path(ha.required("file"));
    },
    "user-identities": (u) => profile.identityFiles = readIdentities(ctx, u),
    password: (p) => readPassword(ctx, p, own),
    tunnels: (t) => profile.tunnels = readTunnels(ctx, t),
  }, own);
  if (user !== undefined) settings.user = user;
  profile.settings = settings;
  const password = ownPassword ?? defaultPassword;
  if (password !== undefined) profile.passwordSource = password;
  return profile;
}

function readIdentities(ctx: ReadContext, el: XmlElement): string[] {
  ctx.attrs(el, []);
  const files: string[] = [];
  ctx.children(el, {
    identity: (i) => {
      const a = ctx.attrs(i, ["file", "identity-file", "hash"]);
      ctx.children(i, {});
      if (a.has("hash")) {
        a.unsupported(
          "hash",
          'it reads no key stores; name the private key file with file="PATH"',
        );
        return;
      }
      const given = ["file", "identity-file"].filter((n) => a.has(n));
      if (given.length !== 1) ctx.fail(i.source, '<identity> needs file="PATH" (the private key)');
      // A .pub names the key pair; the private key is the file beside it.
      const path = ctx.path(a.required(given[0])).replace(/\.pub$/, "");
      if (!files.includes(path)) files.push(path);
    },
  });
  return files;
}

function readStaticTunnel(ctx: ReadContext, el: XmlElement): StaticTunnelConfig {
  const [tunnel, a] = readTunnel(ctx, el, "local", ["profile"], true);
  if (!tunnel.filtered) return { ...tunnel, direction: "local", profile: a.required("profile") };
  const profile = a.str("profile");
  if (profile !== undefined && profile !== "") {
    ctx.fail(
      a.source("profile"),
      'a type="socks-proxy" tunnel takes its connections from the <filter-engine> rules ' +
        "(profile-id): leave profile out",
    );
  }
  return { ...tunnel, direction: "local", profile: "" };
}
