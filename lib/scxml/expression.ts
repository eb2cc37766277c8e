/**
 * A fast path for the data model's simplest expressions (`n >= 0`, `n + 1`,
 * `_event.data.x === 'a'`, `In('s1')`): when an expression uses only literals, operators,
 * member access and free variable names, each free name is rewritten to a call of the data
 * model's lookup (`$g("n") >= 0`) and the expression is compiled without `with` and without
 * a Proxy, which V8 cannot optimise. Anything else (assignments, calls of a bare name other
 * than `In`, functions, object literals, templates, regular expressions, comments, `this`,
 * `new`...) returns undefined and keeps the general path, so the meaning never changes: the
 * lookup resolves a name exactly as the data model's scope does.
 *
 * @module
 */

/** A compiled simple expression: called with the data model's name lookup. */
export type SimpleExpression = (lookup: (name: string) => unknown) => unknown;

/** Words that stay as they are (literals and operators); any other reserved word: no. */
const KEPT = new Set(["true", "false", "null", "typeof", "void", "in", "instanceof"]);
const REFUSED = new Set(
  ("break case catch class const continue debugger default delete do else export extends " +
    "finally for function if import new return super switch this throw try var while with " +
    "yield let static enum await implements package protected interface private public async " +
    "arguments eval").split(" "),
);
const NUMBER = /^(?:0[xXoObB][\da-fA-F_]+n?|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?n?)/;
const NAME = /^[A-Za-z_$][\w$]*/;
const PUNCTUATION =
  /^(?:\?\?|\?\.|===|!==|==|!=|<=|>=|&&|\|\||\*\*|<<|>>>|>>|[-+*%<>!~&|^?:,.()[\]])/;

/** The rewritten body of a simple expression, or undefined when it is not one. */
export function rewriteSimple(expr: string): string | undefined {
  let out = "";
  let i = 0;
  // Whether the previous token ends an operand (then `/` divides; otherwise it would start a
  // regular expression, which is refused).
  let operand = false;
  let member = false; // the previous token was `.` or `?.`: a name is a property
  while (i < expr.length) {
    const rest = expr.slice(i);
    const space = /^\s+/.exec(rest);
    if (space !== null) {
      out += " ";
      i += space[0].length;
      continue;
    }
    const c = rest[0];
    if (c === '"' || c === "'") {
      let j = 1;
      while (j < rest.length && rest[j] !== c) {
        if (rest[j] === "\\") j++;
        else if (rest[j] === "\n") return undefined;
        j++;
      }
      if (j >= rest.length) return undefined;
      out += rest.slice(0, j + 1);
      i += j + 1;
      operand = true;
      member = false;
      continue;
    }
    const num = member ? null : NUMBER.exec(rest);
    if (num !== null && /^[\d.]/.test(c) && num[0] !== ".") {
      out += num[0];
      i += num[0].length;
      operand = true;
      continue;
    }
    const name = NAME.exec(rest);
    if (name !== null) {
      const n = name[0];
      i += n.length;
      if (member) out += n;
      else if (KEPT.has(n)) out += n;
      else if (REFUSED.has(n)) return undefined;
      else {
        // A bare call would change the callee's `this`: only In() is known not to care.
        if (/^\s*\(/.test(expr.slice(i)) && n !== "In") return undefined;
        out += `$g(${JSON.stringify(n)})`;
      }
      operand = !KEPT.has(n) || n === "true" || n === "false" || n === "null";
      member = false;
      continue;
    }
    if (c === "/") {
      if (!operand || rest[1] === "/" || rest[1] === "*" || rest[1] === "=") return undefined;
      out += "/";
      i++;
      operand = false;
      continue;
    }
    const p = PUNCTUATION.exec(rest);
    if (p === null) return undefined; // `=`, `=>`, `{`, backticks, `;`, `++`...
    const t = p[0];
    if (t === "." && rest.startsWith("...")) return undefined; // spread: names would escape
    if ((t === "+" || t === "-") && rest[1] === t) return undefined; // ++ and --
    if (/^[-+*%<>&|^]$|^\*\*$|^<<$|^>>>?$|^\?\?$|^&&$|^\|\|$/.test(t) && rest[t.length] === "=") {
      return undefined; // compound assignment
    }
    out += t;
    i += t.length;
    member = t === "." || t === "?.";
    operand = t === ")" || t === "]";
  }
  return out.trim() === "" ? undefined : out;
}

/** Compiles a simple expression, or returns undefined (not simple, or not valid). */
export function compileSimple(expr: string): SimpleExpression | undefined {
  const body = rewriteSimple(expr.replace(/[;\s]+$/, ""));
  if (body === undefined) return undefined;
  try {
    return new Function("$g", `return (${body}\n);`) as SimpleExpression;
  } catch {
    return undefined; // the general path reports the syntax error
  }
}
