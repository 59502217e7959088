/**
 * XML text → a tree of elements that know where they are.
 *
 * npm:fast-xml-parser does the parsing: its validator rejects malformed text
 * with a line and column, and the parser (`captureMetaData`) gives each
 * element's start offset. It does not give attribute positions, so the start
 * tag at that offset is scanned here for each attribute's name and value.
 * Values are read as XML 1.0 says (3.3.3, attribute-value normalization): a
 * line break, tab or CR LF written in a value becomes one space, while one
 * written as a character reference (`&#10;`) stays what it is; then the five
 * entities and the character references are decoded. Comments, the
 * declaration, processing instructions and the DOCTYPE are dropped; text is
 * kept per element so that stray text can be reported.
 */
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { ConfigError } from "../../errors.ts";
import type { Source } from "./model.ts";

export interface XmlAttr {
  name: string;
  value: string;
  source: Source;
}

export interface XmlElement {
  name: string;
  attrs: XmlAttr[];
  children: XmlElement[];
  /** The element's own text, trimmed (children's text not included). */
  text: string;
  source: Source;
}

/** `FILE:LINE:COL` of a source position. */
export function where(source: Source): string {
  return `${source.file}:${source.line}:${source.col}`;
}

/** A config error at a position: `FILE:LINE:COL: message`, exit 2. */
export function configError(source: Source, message: string): ConfigError {
  return new ConfigError(`${where(source)}: ${message}`);
}

/** Offsets → 1-based line and column. */
class Positions {
  #lineStarts: number[] = [0];
  constructor(readonly file: string, text: string) {
    for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) {
      this.#lineStarts.push(i + 1);
    }
  }
  at(offset: number): Source {
    const starts = this.#lineStarts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { file: this.file, line: lo + 1, col: offset - starts[lo] + 1 };
  }
}

const PARSER = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: "",
  allowBooleanAttributes: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  captureMetaData: true,
  processEntities: true,
  // Numeric character references (&#10;) are XML, but fast-xml-parser decodes
  // them only with htmlEntities set; an (empty) object of names adds no HTML
  // names to XML's five. Its types allow only a boolean.
  htmlEntities: {} as unknown as boolean,
});
const META = XMLParser.getMetaDataSymbol() as unknown as string;

// fast-xml-parser's preserveOrder node: { [tagName]: Node[], ":@"?: attrs }
// or { "#text": string }.
type RawNode = Record<string, unknown>;

/** Parse `text` (the contents of `file`) into its root element. */
export function parseXmlTree(text: string, file: string): XmlElement {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a BOM is no column
  const pos = new Positions(file, text);
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    const { line, col, msg } = valid.err;
    throw configError({ file, line: line || 1, col: col || 1 }, `malformed XML: ${reason(msg)}`);
  }
  const nodes = PARSER.parse(text) as RawNode[];
  const roots = nodes.flatMap((n) => toElement(n, text, pos) ?? []);
  if (roots.length === 0) throw configError(pos.at(0), "malformed XML: no root element");
  if (roots.length > 1) {
    throw configError(roots[1].source, "malformed XML: a second root element");
  }
  return roots[0];
}

/** The validator's message in this file's words (it lists several unclosed tags as JSON). */
function reason(msg: string): string {
  if (msg === "Start tag expected.") return "no root element";
  const unclosed = /^Invalid '(\[.*\])' found\.?$/s.exec(msg);
  if (unclosed) {
    try {
      const tags = JSON.parse(unclosed[1]) as unknown[];
      return `Unclosed tags ${tags.map((t) => `'${t}'`).join(", ")}`;
    } catch { /* not a list after all: the message as it is */ }
  }
  return msg.replace(/\.$/, "");
}

function toElement(node: RawNode, text: string, pos: Positions): XmlElement | undefined {
  const name = Object.keys(node).find((k) => k !== ":@" && k !== "#text");
  if (name === undefined) return undefined;
  const meta = node[META] as { startIndex?: number } | undefined;
  const start = meta?.startIndex ?? 0;
  const attrs = scanAttributes(text, start, name).map(({ name: a, offset, raw }) => ({
    name: a,
    value: attributeValue(raw),
    source: pos.at(offset),
  }));
  const children: XmlElement[] = [];
  const texts: string[] = [];
  for (const child of (node[name] ?? []) as RawNode[]) {
    if ("#text" in child) texts.push(String(child["#text"]));
    else {
      const el = toElement(child, text, pos);
      if (el) children.push(el);
    }
  }
  return { name, attrs, children, text: texts.join(" ").trim(), source: pos.at(start) };
}

/**
 * The attribute names of the start tag at `start` (`<name a="1" b='2'>`), in
 * order, with their offsets. The validator has already accepted the tag, so
 * the scan only has to step over names, `=` and quoted values.
 */
function scanAttributes(
  text: string,
  start: number,
  name: string,
): { name: string; offset: number; raw: string }[] {
  const out: { name: string; offset: number; raw: string }[] = [];
  let i = start + 1 + name.length;
  const isSpace = (c: string) => c === " " || c === "\t" || c === "\n" || c === "\r";
  while (i < text.length) {
    while (i < text.length && isSpace(text[i])) i++;
    const c = text[i];
    if (c === undefined || c === ">" || c === "/") break;
    const nameStart = i;
    while (i < text.length && !isSpace(text[i]) && text[i] !== "=") i++;
    const attr = { name: text.slice(nameStart, i), offset: nameStart, raw: "" };
    out.push(attr);
    while (i < text.length && isSpace(text[i])) i++;
    if (text[i] !== "=") continue;
    i++;
    while (i < text.length && isSpace(text[i])) i++;
    const quote = text[i];
    const end = text.indexOf(quote, i + 1);
    attr.raw = text.slice(i + 1, end === -1 ? text.length : end);
    i = end === -1 ? text.length : end + 1;
  }
  return out;
}

const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

/** An attribute's value as written between its quotes → its value (XML 1.0, 3.3.3). */
export function attributeValue(raw: string): string {
  return raw
    .replace(/\r\n?/g, "\n") // end-of-line handling (2.11) first: CR LF is one break
    .replace(/[\t\n]/g, " ")
    .replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, ref: string) => {
      if (ref.startsWith("#x")) return codePoint(parseInt(ref.slice(2), 16)) ?? whole;
      if (ref.startsWith("#")) return codePoint(parseInt(ref.slice(1), 10)) ?? whole;
      return ENTITIES[ref] ?? whole;
    });
}

function codePoint(n: number): string | undefined {
  return n >= 0 && n <= 0x10ffff ? String.fromCodePoint(n) : undefined;
}
