/**
 * `<general>` (known_hosts files, crypto-lib) and `<logging>` (where the
 * broker logs and from which severity).
 */
import type { LoggingConfig } from "./model.ts";
import type { ReadContext } from "./read_context.ts";
import type { XmlElement } from "./xml_tree.ts";

/** The known_hosts files `<general>` names; undefined if it names none (the defaults apply). */
export function readGeneral(ctx: ReadContext, el: XmlElement): string[] | undefined {
  ctx.attrs(el, []);
  let files: string[] | undefined;
  let skipped = false;
  ctx.children(el, {
    "known-hosts": (kh) => {
      files ??= [];
      const a = ctx.attrs(kh, ["file", "path", "directory", "filename-format"]);
      ctx.children(kh, {});
      a.oneOf("filename-format", ["hash", "plain"], "hash");
      const given = ["file", "path", "directory"].filter((n) => a.has(n));
      if (given.length !== 1) {
        ctx.fail(kh.source, '<known-hosts> needs exactly one of file="PATH" or path="PATH"');
      }
      const name = given[0];
      const value = a.str(name) ?? "";
      if (value === "") return; // file="" / path="": no OpenSSH files (the defaults are off)
      const path = ctx.path(value);
      if (name === "directory" || isDirectory(path)) {
        ctx.warn(
          a.source(name),
          `Tectia host key directories (${path}) are not supported by ` +
            "warren: it reads OpenSSH known_hosts files (ignored)",
        );
        skipped = true;
        return;
      }
      if (a.has("filename-format")) {
        ctx.warn(
          a.source("filename-format"),
          "filename-format applies to Tectia host key " +
            "directories, which warren does not read (ignored)",
        );
      }
      if (!files!.includes(path)) files!.push(path);
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
  if (skipped && files?.length === 0) {
    ctx.warn(
      el.source,
      "no known_hosts file is left, so every host key is unknown: " +
        'add <known-hosts file="~/.ssh/known_hosts"/>',
    );
  }
  return files;
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
