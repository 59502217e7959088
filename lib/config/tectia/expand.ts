/**
 * Environment expansion in ssh-broker-config.xml values, as Tectia defines it:
 *
 *   $VAR              the variable, or empty if unset
 *   ${VAR}            the same
 *   ${VAR:-default}   the variable, or `default` (itself expanded) if unset or empty
 *   %VAR%             the variable, or `%VAR%` unchanged if unset
 *   %USERNAME%, %U    the local user name        (%username% too: any case)
 *   %HOMEDIR%, %D     the user's home directory  (%homedir% too: any case)
 *
 * warren adds `$$` → `$` and `%%` → `%`, so that `warren config dump` can
 * write a value that must stay literal. Tectia's %G (group name), %IU and
 * %IG (numeric user and group id) are refused: warren does not look them up.
 */
export interface ExpandContext {
  env: (name: string) => string | undefined;
  user: string;
  home: string;
}

/** Why a value could not be expanded; the caller adds the position. */
export class ExpandError extends Error {
  override name = "ExpandError";
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;
const SPECIALS: Record<string, "user" | "home" | "unsupported"> = {
  username: "user",
  u: "user",
  homedir: "home",
  d: "home",
  g: "unsupported",
  iu: "unsupported",
  ig: "unsupported",
};

export function expand(value: string, ctx: ExpandContext): string {
  let out = "";
  let i = 0;
  while (i < value.length) {
    const c = value[i];
    if (c === "$") {
      const [text, next] = dollar(value, i, ctx);
      out += text;
      i = next;
    } else if (c === "%") {
      const [text, next] = percent(value, i, ctx);
      out += text;
      i = next;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

function dollar(value: string, i: number, ctx: ExpandContext): [string, number] {
  const rest = value.slice(i + 1);
  if (rest.startsWith("$")) return ["$", i + 2];
  if (rest.startsWith("{")) {
    const close = matchingBrace(value, i + 1);
    if (close === -1) throw new ExpandError(`unterminated \${ in '${value}'`);
    const inner = value.slice(i + 2, close);
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/.exec(inner);
    if (!m) throw new ExpandError(`bad variable reference \${${inner}} in '${value}'`);
    const v = ctx.env(m[1]);
    if (m[2] !== undefined) {
      return [v === undefined || v === "" ? expand(m[2], ctx) : v, close + 1];
    }
    return [v ?? "", close + 1];
  }
  const m = NAME.exec(rest);
  if (!m) return ["$", i + 1];
  return [ctx.env(m[0]) ?? "", i + 1 + m[0].length];
}

/** The index of the `}` closing the `{` at `open`, allowing nested `${...}`. */
function matchingBrace(value: string, open: number): number {
  let depth = 0;
  for (let j = open; j < value.length; j++) {
    if (value[j] === "{") depth++;
    else if (value[j] === "}" && --depth === 0) return j;
  }
  return -1;
}

function percent(value: string, i: number, ctx: ExpandContext): [string, number] {
  const rest = value.slice(i + 1);
  if (rest.startsWith("%")) return ["%", i + 2];
  const m = /^([A-Za-z_][A-Za-z0-9_]*)%/.exec(rest);
  if (m) {
    const special = SPECIALS[m[1].toLowerCase()];
    const next = i + 2 + m[1].length;
    if (special) return [specialValue(special, `%${m[1]}%`, ctx), next];
    const v = ctx.env(m[1]);
    return [v ?? `%${m[1]}%`, next];
  }
  const short = /^(IU|IG|[UDG])/.exec(rest);
  if (short) {
    return [
      specialValue(SPECIALS[short[1].toLowerCase()], `%${short[1]}`, ctx),
      i + 1 + short[1].length,
    ];
  }
  return ["%", i + 1];
}

function specialValue(kind: "user" | "home" | "unsupported", token: string, ctx: ExpandContext) {
  if (kind === "user") return ctx.user;
  if (kind === "home") return ctx.home;
  throw new ExpandError(
    `${token} is not supported (warren does not look up group names or numeric ids)`,
  );
}

/** Escape a literal value so that `expand` gives it back unchanged. */
export function escapeExpansion(value: string): string {
  return value.replaceAll("$", "$$$$").replaceAll("%", "%%");
}
