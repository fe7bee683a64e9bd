/**
 * RFC 6570 URI templates, for matching request URIs against resource templates and for
 * expanding them. Supports every level-4 operator; matching treats list and exploded
 * variables as plain strings.
 */

interface Expression {
  operator: string;
  names: string[];
  explode: boolean[];
}

const OPERATORS: Record<string, { first: string; sep: string; named: boolean; reserved: boolean }> =
  {
    "": { first: "", sep: ",", named: false, reserved: false },
    "+": { first: "", sep: ",", named: false, reserved: true },
    "#": { first: "#", sep: ",", named: false, reserved: true },
    ".": { first: ".", sep: ".", named: false, reserved: false },
    "/": { first: "/", sep: "/", named: false, reserved: false },
    ";": { first: ";", sep: ";", named: true, reserved: false },
    "?": { first: "?", sep: "&", named: true, reserved: false },
    "&": { first: "&", sep: "&", named: true, reserved: false },
  };

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function decode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function encode(value: string, reserved: boolean): string {
  return reserved
    ? encodeURI(value).replace(/%25([0-9A-Fa-f]{2})/g, "%$1")
    : encodeURIComponent(value).replace(
        /[!'()*]/g,
        (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`,
      );
}

export class UriTemplate {
  readonly template: string;
  readonly variableNames: readonly string[];
  readonly #parts: (string | Expression)[];
  readonly #pattern: RegExp;
  /** Variables of named expressions ({;x}, {?q}, {&x}), which may appear in any order. */
  readonly #named = new Set<string>();

  constructor(template: string) {
    this.template = template;
    this.#parts = UriTemplate.#parse(template);
    const names: string[] = [];
    let source = "^";
    for (const part of this.#parts) {
      if (typeof part === "string") {
        source += escapeRegExp(part);
        continue;
      }
      names.push(...part.names);
      if (OPERATORS[part.operator]!.named) for (const name of part.names) this.#named.add(name);
      source += UriTemplate.#expressionPattern(part);
    }
    this.variableNames = names;
    this.#pattern = new RegExp(`${source}$`);
  }

  static isTemplate(uri: string): boolean {
    return /\{[^}]+\}/.test(uri);
  }

  static #parse(template: string): (string | Expression)[] {
    const parts: (string | Expression)[] = [];
    let rest = template;
    while (rest.length) {
      const open = rest.indexOf("{");
      if (open === -1) {
        parts.push(rest);
        break;
      }
      const close = rest.indexOf("}", open);
      if (close === -1) throw new TypeError(`Unclosed expression in URI template: ${template}`);
      if (open > 0) parts.push(rest.slice(0, open));
      let body = rest.slice(open + 1, close);
      const operator = body[0] && body[0] in OPERATORS && body[0] !== "" ? body[0] : "";
      if (operator) body = body.slice(1);
      const vars = body.split(",").map((v) => v.trim());
      if (vars.some((v) => !/^[A-Za-z0-9_.%]+\*?(:\d+)?$/.test(v))) {
        throw new TypeError(`Invalid variable in URI template: ${template}`);
      }
      parts.push({
        operator,
        names: vars.map((v) => v.replace(/\*$|:\d+$/, "")),
        explode: vars.map((v) => v.endsWith("*")),
      });
      rest = rest.slice(close + 1);
    }
    return parts;
  }

  static #expressionPattern(expression: Expression): string {
    const op = OPERATORS[expression.operator]!;
    const sep = escapeRegExp(op.sep);
    if (op.named) {
      // Named pairs may be absent or reordered: capture the whole run and split it later.
      // Path parameters (;) end where the query begins; query parts run to the fragment.
      const run = op.first === ";" ? "[^?#]*" : "[^#]*";
      return `((?:${escapeRegExp(op.first)}${run})?)`;
    }
    // A value stops at URI delimiters and at its operator's separator only: "." is an
    // unreserved character, so `{name}` must match "readme.md".
    const value = op.reserved ? "[^?#]*?" : `[^/?#&,;${sep}]*`;
    const groups = expression.names
      .map((_, i) =>
        // An exploded variable spans its separators (`{/path*}` matches "/a/b/c").
        expression.explode[i] && !op.reserved ? `(${value}(?:${sep}${value})*)` : `(${value})`,
      )
      .join(sep);
    return op.first ? `(?:${escapeRegExp(op.first)}${groups})?` : groups;
  }

  /** The variables of a URI that fits this template, or undefined when it does not fit. */
  match(uri: string): Record<string, string> | undefined {
    const found = this.#pattern.exec(uri);
    if (!found) return undefined;
    const result: Record<string, string> = {};
    let group = 1;
    for (const part of this.#parts) {
      if (typeof part === "string") continue;
      const op = OPERATORS[part.operator]!;
      if (op.named) {
        const run = found[group++] ?? "";
        const pairs = run.slice(op.first.length).split(op.sep);
        for (const pair of pairs) {
          if (!pair) continue;
          const eq = pair.indexOf("=");
          const name = decode(eq === -1 ? pair : pair.slice(0, eq));
          // The regex cannot tell `{?q}{&lang}` apart, so the first run may hold later pairs.
          if (this.#named.has(name) && !Object.hasOwn(result, name)) {
            result[name] = eq === -1 ? "" : decode(pair.slice(eq + 1));
          }
        }
        continue;
      }
      for (const name of part.names) {
        // Undefined when a prefixed expression ({/x}, {.x}, {#x}) is absent. An empty capture
        // is an empty value: `{id}` always yields a string, as its type promises.
        const value = found[group++];
        if (value !== undefined) result[name] = decode(value);
      }
    }
    return result;
  }

  /** Expands the template with the given variables. */
  expand(variables: Record<string, string | undefined>): string {
    let out = "";
    for (const part of this.#parts) {
      if (typeof part === "string") {
        out += part;
        continue;
      }
      const op = OPERATORS[part.operator]!;
      const pieces: string[] = [];
      for (const name of part.names) {
        const value = variables[name];
        if (value === undefined) continue;
        const encoded = encode(value, op.reserved);
        pieces.push(
          op.named ? (value === "" && op.first === ";" ? name : `${name}=${encoded}`) : encoded,
        );
      }
      if (pieces.length) out += op.first + pieces.join(op.sep);
    }
    return out;
  }
}
