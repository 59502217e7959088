/**
 * The strict reading of one element: which attributes and children it may
 * have, typed attribute values after expansion, and errors and warnings that
 * point at `FILE:LINE:COL`. Everything not declared is an error; Tectia
 * elements warren does not implement are named as such (unsupported.ts).
 */
import { isAbsolute, resolve } from "node:path";
import type { Source } from "./model.ts";
import { expand, type ExpandContext, ExpandError } from "./expand.ts";
import { configError, where, type XmlAttr, type XmlElement } from "./xml_tree.ts";
import { UNSUPPORTED } from "./unsupported.ts";

export class ReadContext {
  readonly warnings: string[] = [];
  constructor(readonly file: string, readonly expansion: ExpandContext) {}

  fail(source: Source, message: string): never {
    throw configError(source, message);
  }

  warn(source: Source, message: string): void {
    this.warnings.push(`${where(source)}: ${message}`);
  }

  /** The attributes of `el`, refusing any not in `allowed`. */
  attrs(el: XmlElement, allowed: readonly string[]): Attrs {
    for (const a of el.attrs) {
      if (!allowed.includes(a.name)) {
        const known = allowed.length ? ` (known: ${allowed.join(", ")})` : "";
        this.fail(a.source, `unknown attribute '${a.name}' on <${el.name}>${known}`);
      }
    }
    return new Attrs(this, el);
  }

  /** Refuse text inside an element that takes none. */
  noText(el: XmlElement): void {
    if (el.text !== "") this.fail(el.source, `unexpected text in <${el.name}>`);
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
          this.fail(
            child.source,
            `duplicate <${child.name}> in <${el.name}> (first at ${first.line}:${first.col})`,
          );
        }
        seen.set(child.name, child.source);
        handler(child);
        continue;
      }
      const entry = UNSUPPORTED[scope]?.[child.name];
      if (entry) {
        const verdict = entry(child);
        const message = `<${child.name}> is not supported by warren: ${verdict.why}`;
        if (verdict.severity === "error") this.fail(child.source, message);
        this.warn(child.source, `${message} (ignored)`);
        continue;
      }
      const known = Object.keys(handlers).map((n) => `<${n}>`).join(", ");
      this.fail(
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
