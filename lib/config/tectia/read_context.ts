/**
 * The strict reading of one element: which attributes and children it may
 * have, typed attribute values after expansion, and errors and warnings that
 * point at `FILE:LINE:COL`. Everything not declared is an error; Tectia
 * elements warren does not implement are named as such (unsupported.ts).
 *
 * Every mistake in a file is reported in one run, as a compiler does: a
 * mistake that leaves an element unreadable (`fail`) ends the reading of that
 * element only, and its siblings are read on; one that does not (an unknown
 * attribute or element, stray text: `report`) lets the element go on too.
 * `throwErrors()` then throws them all, in file order, as one ConfigError.
 */
import { isAbsolute, resolve } from "node:path";
import type { Source } from "./model.ts";
import { expand, type ExpandContext, ExpandError } from "./expand.ts";
import { where, type XmlAttr, type XmlElement } from "./xml_tree.ts";
import { ConfigError } from "../../errors.ts";
import { UNSUPPORTED, UNSUPPORTED_ATTRS } from "./unsupported.ts";

/** A mistake already reported: unwinds the reading of the element it was found in. */
export class ElementUnreadable extends Error {
  constructor() {
    super("element unreadable (reported)");
  }
}

/** The most mistakes one run lists; a file with more has a bigger problem. */
const MAX_ERRORS = 50;

export class ReadContext {
  readonly warnings: string[] = [];
  readonly errors: { source: Source; message: string }[] = [];
  constructor(readonly file: string, readonly expansion: ExpandContext) {}

  /** A mistake that leaves the element unreadable: reported, and its reading ends here. */
  fail(source: Source, message: string): never {
    this.report(source, message);
    throw new ElementUnreadable();
  }

  /** A mistake the reading can go on after. The same mistake at the same place counts once. */
  report(source: Source, message: string): void {
    const seen = this.errors.some((e) =>
      e.message === message && e.source.line === source.line && e.source.col === source.col
    );
    if (!seen) this.errors.push({ source, message });
  }

  /** `read()`, or undefined if it failed (the mistake is reported already). */
  guard<T>(read: () => T): T | undefined {
    try {
      return read();
    } catch (err) {
      if (err instanceof ElementUnreadable) return undefined;
      throw err;
    }
  }

  /**
   * Throw every mistake reported, in file order, as one ConfigError (one line
   * each), after the warnings found on the way ("warning: FILE:LINE:COL: ..."),
   * as a compiler shows both.
   */
  throwErrors(): void {
    if (this.errors.length === 0) return;
    const sorted = [...this.errors].sort((a, b) =>
      a.source.line - b.source.line || a.source.col - b.source.col
    );
    const lines = sorted.slice(0, MAX_ERRORS).map((e) => `${where(e.source)}: ${e.message}`);
    if (sorted.length > MAX_ERRORS) {
      lines.push(`${this.file}: ${sorted.length - MAX_ERRORS} more mistakes not shown`);
    }
    throw new ConfigError([...this.warnings.map((w) => `warning: ${w}`), ...lines].join("\n"));
  }

  warn(source: Source, message: string): void {
    this.warnings.push(`${where(source)}: ${message}`);
  }

  /** The attributes of `el`, refusing any not in `allowed`. */
  attrs(el: XmlElement, allowed: readonly string[]): Attrs {
    const attrs = new Attrs(this, el);
    for (const a of el.attrs) {
      if (allowed.includes(a.name)) continue;
      // A Tectia attribute warren does not implement is named as that, not as a typo.
      const entry = UNSUPPORTED_ATTRS[el.name]?.[a.name];
      if (entry) {
        attrs.unsupported(a.name, entry.why, entry.severity);
        continue;
      }
      const known = allowed.length ? ` (known: ${allowed.join(", ")})` : "";
      this.report(a.source, `unknown attribute '${a.name}' on <${el.name}>${known}`);
    }
    return attrs;
  }

  /** Refuse text inside an element that takes none. */
  noText(el: XmlElement): void {
    if (el.text !== "") this.report(el.source, `unexpected text in <${el.name}>`);
  }

  /**
   * Read the children of `el`: each name in `handlers` is read by its
   * handler, a Tectia element warren does not implement is reported (error
   * or warning), anything else is an unknown element. Names in `once` may
   * appear at most once.
   */
  children(
    el: XmlElement,
    handlers: Record<string, (child: XmlElement) => void>,
    once: readonly string[] = [],
    scope: string = el.name,
  ): void {
    this.noText(el);
    const seen = new Map<string, Source>();
    for (const child of el.children) {
      const handler = Object.hasOwn(handlers, child.name) ? handlers[child.name] : undefined;
      if (handler) {
        const first = seen.get(child.name);
        if (first && once.includes(child.name)) {
          this.report(
            child.source,
            `duplicate <${child.name}> in <${el.name}> (first at ${first.line}:${first.col})`,
          );
          continue;
        }
        seen.set(child.name, child.source);
        this.guard(() => handler(child));
        continue;
      }
      const entry = UNSUPPORTED[scope]?.[child.name];
      if (entry) {
        const verdict = entry(child);
        const message = `<${child.name}> is not supported by warren: ${verdict.why}`;
        if (verdict.severity === "error") this.report(child.source, message);
        else this.warn(child.source, `${message} (ignored)`);
        continue;
      }
      const known = Object.keys(handlers).map((n) => `<${n}>`).join(", ");
      this.report(
        child.source,
        `unknown element <${child.name}> in <${el.name}>${known ? ` (known: ${known})` : ""}`,
      );
    }
  }

  /** A file name: `~/` is the home directory, relative is to the config file. */
  path(value: string): string {
    if (value === "~") return this.expansion.home;
    if (value.startsWith("~/")) return this.expansion.home + value.slice(1);
    if (isAbsolute(value)) return value;
    return resolve(this.file, "..", value);
  }
}

/** Typed access to one element's attributes, expanded on read. */
export class Attrs {
  constructor(readonly ctx: ReadContext, readonly el: XmlElement) {}

  #attr(name: string): XmlAttr | undefined {
    return this.el.attrs.find((a) => a.name === name);
  }

  has(name: string): boolean {
    return this.#attr(name) !== undefined;
  }

  /** Where the attribute is, or the element if it is absent. */
  source(name: string): Source {
    return this.#attr(name)?.source ?? this.el.source;
  }

  /** The expanded value, or undefined if absent. */
  str(name: string): string | undefined {
    const a = this.#attr(name);
    if (!a) return undefined;
    try {
      return expand(a.value, this.ctx.expansion);
    } catch (err) {
      if (err instanceof ExpandError) this.ctx.fail(a.source, `${name}: ${err.message}`);
      throw err;
    }
  }

  required(name: string): string {
    const v = this.str(name);
    if (v === undefined) this.ctx.fail(this.el.source, `<${this.el.name}> needs ${name}="..."`);
    if (v === "") {
      const raw = this.#attr(name)?.value ?? "";
      this.ctx.fail(this.source(name), `${name} is empty${raw ? ` (from '${raw}')` : ""}`);
    }
    return v;
  }

  /**
   * A Tectia attribute (or one of its values) that warren does not implement,
   * in the words used for every such attribute: an error (reported; reading
   * goes on) or a warning "(ignored)".
   */
  unsupported(
    name: string,
    why: string,
    severity: "error" | "warning" = "error",
    options: { secret?: boolean } = {},
  ): void {
    const raw = options.secret ? "..." : this.#attr(name)?.value ?? "";
    const message = `${name}="${raw}" on <${this.el.name}> is not supported by warren: ${why}`;
    if (severity === "error") this.ctx.report(this.source(name), message);
    else this.ctx.warn(this.source(name), `${message} (ignored)`);
  }

  /** A bad value: names the attribute, the value (and what it came from). */
  bad(name: string, value: string, expected: string): never {
    const raw = this.#attr(name)?.value ?? "";
    const from = raw !== value ? ` (from '${raw}')` : "";
    this.ctx.fail(this.source(name), `bad ${name} '${value}'${from}: expected ${expected}`);
  }

  /** yes|no (YES|NO too). */
  bool(name: string, fallback: boolean): boolean {
    const v = this.str(name);
    if (v === undefined) return fallback;
    if (v === "yes" || v === "YES") return true;
    if (v === "no" || v === "NO") return false;
    this.bad(name, v, "yes or no");
  }

  /** A whole number in [min, max]. */
  int(name: string, min: number, max: number, fallback: number): number {
    const v = this.str(name);
    if (v === undefined) return fallback;
    const n = /^\d+$/.test(v.trim()) ? Number(v.trim()) : NaN;
    if (!(n >= min && n <= max)) this.bad(name, v, `a whole number from ${min} to ${max}`);
    return n;
  }

  /** One of `values` (compared case-insensitively), returned in its canonical form. */
  oneOf<T extends string>(name: string, values: readonly T[], fallback: T): T {
    const v = this.str(name);
    if (v === undefined) return fallback;
    const found = values.find((x) => x.toLowerCase() === v.toLowerCase());
    if (found === undefined) this.bad(name, v, values.join(", "));
    return found;
  }
}
