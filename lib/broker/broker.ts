/**
 * The broker's state: one `ProfileLink` per profile in use and the tunnel
 * listeners, built from a `BrokerConfig` and changed by `warren ctl`.
 *
 * - start(): every static tunnel listens; connect-on-startup profiles are
 *   held (connected now, reconnected when lost) and their `<tunnels>` open.
 *   Other profiles' `<tunnels>` are for `warren PROFILE` runs.
 * - reload(config): listeners are compared by what they are (origin,
 *   profile id, direction, spec); unchanged ones stay with their live
 *   connections, others are closed or opened. A profile whose connection
 *   settings changed (or whose gateway's did) gets a new link for new
 *   clients; the old connection finishes what it carries and closes.
 *   Listeners opened with ctl are not the config's: reload keeps them.
 * - stop(): listeners first, then connections (those through a gateway
 *   before the gateway).
 */
import type { Duplex } from "node:stream";
import type { Env } from "../config/env.ts";
import { parseForward } from "../config/forward.ts";
import {
  type BrokerConfig,
  findProfile,
  gatewayChain,
  type ProfileConfig,
} from "../config/tectia/model.ts";
import { messageOf, UsageError, WarrenError } from "../errors.ts";
import { logger } from "../log.ts";
import { connectSsh, type SshConnection } from "../ssh/connection.ts";
import { VERSION } from "../version.ts";
import { type Listener, type ListenerInfo, LocalListener } from "./listeners.ts";
import { RemoteListener } from "./remote_listener.ts";
import { ProfileLink } from "../profiles/link.ts";
import type { SessionInfo } from "../profiles/session.ts";
import { connectOptionsFor } from "../profiles/connect.ts";
import { changedProfiles, placeOf, type Wanted, wantedListeners } from "./plan.ts";

const log = logger("broker");

export type ProfileConnector = (
  profile: ProfileConfig,
  config: BrokerConfig,
  sock?: Duplex,
) => Promise<SshConnection>;

export interface BrokerOptions {
  env: Env;
  /** How a profile's connection is opened (tests may wrap it). */
  connect?: ProfileConnector;
  /** The control address, for status. */
  control?: string;
}

export interface BrokerStatus {
  pid: number;
  version: string;
  started: string;
  uptimeSeconds: number;
  config: string;
  control: string;
  profiles: number;
  connections: number;
  listeners: number;
}

export interface ReloadSummary {
  added: number;
  removed: number;
  kept: number;
  /** Profiles whose connection settings changed or that went away. */
  replacedProfiles: string[];
}

/** The default connector: the profile's settings, over `sock` for a jump. */
export function defaultConnector(env: Env): ProfileConnector {
  return async (profile, config, sock) => {
    const opts = await connectOptionsFor(profile, config, env);
    return await connectSsh(sock ? { ...opts, sock } : opts);
  };
}

export class Broker {
  #config: BrokerConfig;
  #opts: BrokerOptions;
  #connect: ProfileConnector;
  #links = new Map<string, ProfileLink>();
  #retired = new Set<ProfileLink>();
  #listeners = new Map<number, Listener>();
  #holds = new Map<string, () => void>();
  #nextConnection = 0;
  #nextListener = 0;
  #started = new Date();
  #stopped = false;

  constructor(config: BrokerConfig, opts: BrokerOptions) {
    this.#config = config;
    this.#opts = opts;
    this.#connect = opts.connect ?? defaultConnector(opts.env);
  }

  get config(): BrokerConfig {
    return this.#config;
  }

  /** The link of a profile, created on first use. */
  link(profileId: string): ProfileLink {
    const existing = this.#links.get(profileId);
    if (existing) return existing;
    if (this.#stopped) throw new WarrenError("connect", "The broker is shutting down");
    const profile = this.#config.profiles.find((p) => p.id === profileId);
    if (!profile) {
      throw new WarrenError("config", `No profile '${profileId}' in ${this.#config.file}`);
    }
    const config = this.#config;
    const link = new ProfileLink(profile, {
      connect: (sock) => this.#connect(profile, config, sock),
      gateway: profile.gatewayProfile === undefined
        ? undefined
        : () => this.link(profile.gatewayProfile!),
      idleTimeoutMs: profile.settings.idleTimeout * 1000,
      nextId: () => ++this.#nextConnection,
    });
    this.#links.set(profileId, link);
    return link;
  }

  async #add(w: Wanted): Promise<Listener> {
    const id = ++this.#nextListener;
    const links = (profileId: string) => this.link(profileId);
    const listener = w.direction === "local"
      ? new LocalListener(id, w, links)
      : new RemoteListener(id, w, links);
    await listener.start();
    this.#listeners.set(id, listener);
    return listener;
  }

  /** Open the config's listeners and connect-on-startup profiles. */
  async start(): Promise<void> {
    for (const w of wantedListeners(this.#config)) {
      try {
        await this.#add(w);
      } catch (err) {
        log.error("{where}{err}", { where: placeOf(w.source), err: messageOf(err) });
      }
    }
    this.#syncHolds();
  }

  /** Hold exactly the connect-on-startup profiles. */
  #syncHolds(): void {
    const want = new Set(this.#config.profiles.filter((p) => p.connectOnStartup).map((p) => p.id));
    for (const [id, release] of this.#holds) {
      if (!want.has(id) || !this.#links.has(id)) {
        release();
        this.#holds.delete(id);
      }
    }
    for (const id of want) {
      if (!this.#holds.has(id)) this.#holds.set(id, this.link(id).hold());
    }
  }

  /** Apply a newly read config; see the module comment. */
  async reload(config: BrokerConfig): Promise<ReloadSummary> {
    const old = this.#config;
    const changed = changedProfiles(old, config);
    const replaced = [...changed].filter((id) => this.#links.has(id));
    for (const id of replaced) {
      const link = this.#links.get(id)!;
      this.#holds.get(id)?.();
      this.#holds.delete(id);
      link.retire();
      this.#retired.add(link);
      this.#links.delete(id);
    }
    this.#config = config;

    const wanted = wantedListeners(config);
    const keys = new Set(wanted.map((w) => w.key));
    let removed = 0;
    for (const [id, l] of this.#listeners) {
      if (l.origin === "ctl" || keys.has(l.key)) continue;
      this.#listeners.delete(id);
      await l.close();
      removed++;
    }
    const present = new Set([...this.#listeners.values()].map((l) => l.key));
    let added = 0;
    for (const w of wanted) {
      if (present.has(w.key)) continue;
      try {
        await this.#add(w);
        added++;
      } catch (err) {
        log.error("{where}{err}", { where: placeOf(w.source), err: messageOf(err) });
      }
    }
    for (const l of this.#listeners.values()) {
      if (l instanceof RemoteListener && changed.has(l.profile)) await l.relink();
    }
    this.#syncHolds();
    const summary = {
      added,
      removed,
      kept: this.#listeners.size - added,
      replacedProfiles: replaced,
    };
    log.info(
      "Reloaded {file}: {added} listener(s) added, {removed} removed, {kept} kept{profiles}",
      {
        file: config.file,
        ...summary,
        profiles: replaced.length ? `; new connection settings for ${replaced.join(", ")}` : "",
      },
    );
    return summary;
  }

  /** `ctl open-tunnel-listener`: -L/-R grammar plus a profile (id or name). */
  async openListener(
    direction: "local" | "remote",
    text: string,
    profileRef: string,
  ): Promise<ListenerInfo> {
    const option = direction === "local" ? "-L" : "-R";
    const spec = parseForward(text, option);
    if (spec.protocol === "dns") {
      throw new UsageError(
        `Invalid ${option} '${text}': dns/ tunnels are not supported by the broker yet`,
      );
    }
    if (spec.listenPath !== undefined || spec.dstPath !== undefined) {
      throw new UsageError(
        `Invalid ${option} '${text}': Unix socket tunnels are not supported by the broker yet`,
      );
    }
    const profile = findProfile(this.#config, profileRef);
    if (!profile) {
      throw new UsageError(`No profile '${profileRef}' in ${this.#config.file} (by id or name)`);
    }
    const listener = await this.#add({
      key: `ctl:${this.#nextListener + 1}`,
      origin: "ctl",
      profile: profile.id,
      direction,
      spec,
    });
    return listener.info();
  }

  /** `ctl close-tunnel-listener ID|[addr]:port`. */
  async closeListener(ref: string): Promise<ListenerInfo> {
    let found: Listener[];
    if (/^\d+$/.test(ref)) {
      const l = this.#listeners.get(Number(ref));
      found = l ? [l] : [];
    } else {
      const m = /^(?:\[([^\]]*)\]|([^:\[\]]*)):(\d{1,5})$/.exec(ref);
      if (!m) {
        throw new UsageError(
          `Invalid listener '${ref}': expected an id or [address]:port (e.g. 3, :8080, [::1]:8080)`,
        );
      }
      const address = m[1] ?? m[2];
      const port = Number(m[3]);
      found = [...this.#listeners.values()].filter((l) =>
        l.matches(address === "" ? undefined : address, port)
      );
    }
    if (found.length === 0) throw new WarrenError("tunnel", `No tunnel listener ${ref}`);
    if (found.length > 1) {
      throw new WarrenError(
        "tunnel",
        `${ref} matches listeners ${found.map((l) => l.id).join(", ")}: close one by id`,
      );
    }
    const [listener] = found;
    const info = listener.info();
    this.#listeners.delete(listener.id);
    await listener.close();
    log.info("Closed tunnel listener {id} on request", { id: listener.id });
    return info;
  }

  /** `ctl close-connection ID`: listeners stay; the next client reconnects. */
  closeConnection(id: number): SessionInfo {
    for (const link of this.#allLinks()) {
      const info = link.sessions().find((s) => s.id === id);
      if (info && link.closeSession(id)) return info;
    }
    throw new WarrenError("connect", `No connection ${id}`);
  }

  #allLinks(): ProfileLink[] {
    for (const link of this.#retired) if (link.finished) this.#retired.delete(link);
    return [...this.#links.values(), ...this.#retired];
  }

  connections(): SessionInfo[] {
    return this.#allLinks().flatMap((l) => l.sessions()).sort((a, b) => a.id - b.id);
  }

  listeners(): ListenerInfo[] {
    return [...this.#listeners.values()].map((l) => l.info()).sort((a, b) => a.id - b.id);
  }

  status(): BrokerStatus {
    return {
      pid: Deno.pid,
      version: VERSION,
      started: this.#started.toISOString(),
      uptimeSeconds: Math.floor((Date.now() - this.#started.getTime()) / 1000),
      config: this.#config.file,
      control: this.#opts.control ?? "",
      profiles: this.#config.profiles.length,
      connections: this.connections().length,
      listeners: this.#listeners.size,
    };
  }

  /** Close listeners, then connections (through-gateway ones first). */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const release of this.#holds.values()) release();
    this.#holds.clear();
    const listeners = [...this.#listeners.values()];
    this.#listeners.clear();
    await Promise.allSettled(listeners.map((l) => l.close()));
    const depth = (l: ProfileLink) => gatewayChain(this.#config, l.profile).length;
    const links = this.#allLinks().sort((a, b) => depth(b) - depth(a));
    for (const link of links) await link.stop();
    this.#links.clear();
    this.#retired.clear();
  }
}
