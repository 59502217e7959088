/**
 * `<general>` (known_hosts files, crypto-lib) and `<logging>` (where the
 * broker logs and from which severity).
 */
import type { LoggingConfig } from "./model.ts";
import type { ReadContext } from "./read_context.ts";
import type { XmlElement } from "./xml_tree.ts";
import { defaultKnownHostsFiles } from "../env.ts";

/**
 * Where host keys are looked up, as `<general><known-hosts>` names them:
 * OpenSSH known_hosts files (`file=`, or `path=` naming a file) and Tectia
 * host key directories (`directory=`, or `path=` naming a directory), in
 * order; a directory is written with a trailing "/" (known_hosts.ts reads it
 * as one, and never writes there). Undefined if it names none: the defaults
 * apply (tectiaDefaultKnownHosts).
 */
export function readGeneral(ctx: ReadContext, el: XmlElement): string[] | undefined {
  ctx.attrs(el, []);
  let files: string[] | undefined;
  ctx.children(el, {
    "known-hosts": (kh) => {
      const a = ctx.attrs(kh, ["file", "path", "directory", "filename-format"]);
      ctx.children(kh, {}, [], "known-hosts");
      if (a.has("filename-format")) {
        a.oneOf("filename-format", ["hash", "plain", "default"], "hash");
        a.unsupported(
          "filename-format",
          "it never writes host key directories (new keys go to a known_hosts file)",
          "warning",
        );
      }
      const given = ["file", "path", "directory"].filter((n) => a.has(n));
      if (given.length === 0) {
        if (!a.has("filename-format")) {
          ctx.fail(kh.source, '<known-hosts> needs file="PATH", path="PATH" or directory="PATH"');
        }
        return; // only a storage format: the defaults stay
      }
      files ??= [];
      for (const name of given) {
        const value = a.str(name) ?? "";
        if (value === "") continue; // file="" / path="": no default files
        const path = ctx.path(value).replace(/(.)\/+$/, "$1");
        const directory = name === "directory" || (name === "path" && isDirectory(path));
        if (name === "file" && isDirectory(path)) {
          ctx.report(
            a.source(name),
            `file="${value}" names a directory: a Tectia host key directory is path= or directory=`,
          );
          continue;
        }
        const entry = directory ? `${path}/` : path;
        if (!files.includes(entry)) files.push(entry);
      }
    },
    "crypto-lib": (c) => {
      const a = ctx.attrs(c, ["mode"]);
      ctx.children(c, {});
      if (a.oneOf("mode", ["standard", "fips"], "standard") === "fips") {
        a.unsupported(
          "mode",
          "its crypto (node:crypto via ssh2) is not a FIPS 140-2 certified module",
        );
      }
    },
  }, ["crypto-lib"]);
  if (files && files.length > 0 && files.every((f) => f.endsWith("/"))) {
    ctx.warn(
      el.source,
      "only Tectia host key directories are named: warren reads them but never writes there, " +
        'so no new host key is saved (add <known-hosts file="~/.ssh/known_hosts"/> for that)',
    );
  }
  return files;
}

/**
 * Where host keys are looked up when `<general>` names nowhere: OpenSSH's
 * files (new keys go to the first), then Tectia's own directories, read only.
 */
export function tectiaDefaultKnownHosts(home: string): string[] {
  return [...defaultKnownHostsFiles(home), `${home}/.ssh2/hostkeys/`, "/etc/ssh2/hostkeys/"];
}

function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false; // absent or unreadable: a known_hosts file that may appear later
  }
}

const SEVERITIES: Record<string, LoggingConfig["severity"]> = {
  debug: "debug",
  info: "info",
  informational: "info",
  notice: "info",
  "security-success": "info",
  warning: "warning",
  "security-failure": "warning",
  error: "error",
  critical: "error",
};

export function readLogging(ctx: ReadContext, el: XmlElement): LoggingConfig {
  ctx.attrs(el, []);
  const logging: LoggingConfig = { target: "stderr", severity: "info" };
  let severity: LoggingConfig["severity"] | undefined;
  const order = ["debug", "info", "warning", "error"];
  const targets: { type: LoggingConfig["target"]; file?: string; source: XmlElement }[] = [];
  ctx.children(el, {
    "log-target": (t) => {
      const a = ctx.attrs(t, ["type", "file"]);
      ctx.children(t, {});
      // The man page's own example names only a file: file= alone is a file target.
      const type = a.oneOf(
        "type",
        ["file", "syslog", "discard", "stderr"],
        a.has("file") ? "file" : "stderr",
      );
      if (type === "file") targets.push({ type, file: ctx.path(a.required("file")), source: t });
      else {
        if (a.has("file")) {
          ctx.fail(a.source("file"), `file= is not allowed with type="${type}"`);
        }
        targets.push({ type, source: t });
      }
    },
    "log-events": (e) => {
      const a = ctx.attrs(e, ["severity", "facility"]);
      // Its text is event names (below); a <log-target> inside is Tectia's per-event target.
      ctx.children({ ...e, text: "" }, {}, [], "log-events");
      const s = SEVERITIES[a.oneOf("severity", Object.keys(SEVERITIES), "info")];
      if (e.text !== "" && e.text !== "*") {
        ctx.warn(
          e.source,
          "choosing events by name is not supported by warren: " +
            `every event at ${s} or above is logged (event names ignored)`,
        );
      }
      if (a.has("facility")) a.unsupported("facility", "events have no facility", "warning");
      if (severity === undefined || order.indexOf(s) < order.indexOf(severity)) severity = s;
    },
  });
  // Several targets (a file and syslog, as in the man page): warren writes one.
  const chosen = targets.find((t) => t.type === "file") ??
    targets.find((t) => t.type !== "discard") ??
    targets[0];
  if (chosen) {
    logging.target = chosen.type;
    if (chosen.file !== undefined) logging.file = chosen.file;
  }
  for (const t of targets) {
    if (t === chosen) continue;
    const where = chosen!.file ?? chosen!.type;
    const what = t.file ? `a second log file (${t.file})` : `log target ${t.type}`;
    ctx.warn(
      t.source.source,
      `${what} beside ${where} is not supported by warren: the broker logs to ${where} only (ignored)`,
    );
  }
  if (severity) logging.severity = severity;
  return logging;
}
