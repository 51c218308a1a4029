/**
 * POSIX extended regular expressions (as glibc's regcomp(REG_EXTENDED | REG_NOSUB | REG_NEWLINE) reads them
 * in the C locale, which is what s6-log uses) translated into JavaScript RegExp source.
 *
 * Lines are matched as latin1 strings: one char per byte, so a byte-oriented C-locale regex behaves the same.
 * Lines never contain '\n' or NUL (both end a line), so REG_NEWLINE only matters for '.', which in JS would
 * not match '\r' — it becomes [^\n]. Matching is unanchored; only whether a match exists counts (REG_NOSUB),
 * so leftmost-longest vs backtracking semantics give the same answer (back-references aside).
 *
 * Translation rules (each checked against Debian's s6-log):
 * - a quantifier with nothing to repeat (at the start, after '(' '|' '^') is an error: `*a`, `(*a)`, `a|*b`, `{1}`;
 * - stacked quantifiers apply to the quantified atom: `a**`, `a{1}{2}`, `a+?` = (a+)? (not a lazy `+`);
 * - `{,n}` = `{0,n}`; bounds ≤ 32767 (RE_DUP_MAX); `{` not starting a valid interval is an error;
 * - `\X` for a non-special X is the literal X (`\n` matches 'n'); GNU escapes `\w \W \s \S \b \B \< \> \` \'`;
 *   back-references `\1`..`\9` must name a closed group;
 * - bracket expressions: a leading ']' is literal, backslash is literal, [:class:] (ASCII only), [=c=] and
 *   [.c.] for single characters; a reversed range `[z-a]` and `[a-c-e]` are errors;
 * - an unmatched ')' is a literal; an unclosed '(' or '[' and a trailing '\' are errors.
 */

export class RegexSyntaxError extends Error {}

const CLASSES: Record<string, string> = {
  alpha: 'A-Za-z',
  digit: '0-9',
  alnum: '0-9A-Za-z',
  upper: 'A-Z',
  lower: 'a-z',
  space: ' \\t\\n\\v\\f\\r',
  blank: ' \\t',
  punct: '!-\\/:-@\\[-`{-~',
  print: ' -~',
  graph: '!-~',
  cntrl: '\\x00-\\x1f\\x7f',
  xdigit: '0-9A-Fa-f',
};

const RE_DUP_MAX = 32767;

/** Escape one char (code point 0..255) for use inside a JS character class. */
function classChar(c: number): string {
  return '\\x' + c.toString(16).padStart(2, '0');
}

/** Escape one literal char for use outside a class. */
function litChar(c: number): string {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z0-9 _]/.test(ch)) return ch;
  return '\\x' + c.toString(16).padStart(2, '0');
}

/** Parse a bracket expression starting at src[i] === '['; returns [jsClass, nextIndex]. */
function parseBracket(src: string, i: number): [string, number] {
  let j = i + 1;
  let negate = false;
  if (src[j] === '^') { negate = true; j++; }
  const parts: string[] = [];
  let first = true;
  const readElem = (): { code: number } | { cls: string } | null => {
    // returns one element at j and advances j; null at the closing ']'
    if (j >= src.length) throw new RegexSyntaxError('unterminated bracket expression');
    const c = src[j];
    if (c === ']' && !first) return null;
    if (c === '[' && (src[j + 1] === ':' || src[j + 1] === '=' || src[j + 1] === '.')) {
      const kind = src[j + 1];
      const end = src.indexOf(kind + ']', j + 2);
      if (end < 0) throw new RegexSyntaxError('unterminated bracket expression');
      const name = src.slice(j + 2, end);
      j = end + 2;
      if (kind === ':') {
        const cls = CLASSES[name];
        if (cls === undefined) throw new RegexSyntaxError(`invalid character class: ${name}`);
        return { cls };
      }
      if (name.length !== 1) throw new RegexSyntaxError(`invalid collating element: ${name}`);
      return { code: name.charCodeAt(0) };
    }
    j++;
    return { code: c.charCodeAt(0) };
  };
  for (;;) {
    const e = readElem();
    first = false;
    if (e === null) { j++; break; }
    if ('cls' in e) { parts.push(e.cls); continue; }
    // a range?  x-y where '-' is not the last char before ']'
    if (src[j] === '-' && src[j + 1] !== ']' && j + 1 < src.length) {
      j++; // skip '-'
      const hiElem = readElem();
      if (hiElem === null || 'cls' in hiElem) throw new RegexSyntaxError('invalid range end');
      if (hiElem.code < e.code) throw new RegexSyntaxError('invalid range end');
      parts.push(classChar(e.code) + '-' + classChar(hiElem.code));
      if (src[j] === '-' && src[j + 1] !== ']') throw new RegexSyntaxError('invalid range end');
      continue;
    }
    parts.push(classChar(e.code));
  }
  const body = parts.join('');
  if (negate) return [body === '' ? '[\\s\\S]' : `[^${body}]`, j];
  return [body === '' ? '[]' : `[${body}]`, j];
}

/** Translate a POSIX ERE into JS RegExp source (use with no flags, on latin1 strings). Throws RegexSyntaxError. */
export function translateEre(src: string): string {
  // Output is a stack of alternatives per group; each alternative is a list of atoms.
  interface Atom { s: string; quantified: boolean; quantifiable: boolean }
  interface Frame { alts: Atom[][]; groupNo: number }
  const stack: Frame[] = [{ alts: [[]], groupNo: 0 }];
  let groups = 0;
  const closed = new Set<number>();
  const cur = (): Atom[] => { const f = stack[stack.length - 1]; return f.alts[f.alts.length - 1]; };
  const push = (s: string, quantifiable = true): void => { cur().push({ s, quantified: false, quantifiable }); };
  const quantify = (q: string): void => {
    const atoms = cur();
    const last = atoms[atoms.length - 1];
    if (!last || !last.quantifiable) throw new RegexSyntaxError('invalid preceding regular expression');
    if (last.quantified) last.s = `(?:${last.s})`;
    last.s += q;
    last.quantified = true;
  };
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    switch (c) {
      case '(': {
        groups++;
        stack.push({ alts: [[]], groupNo: groups });
        i++;
        break;
      }
      case ')': {
        if (stack.length === 1) { push(litChar(41)); i++; break; }
        const f = stack.pop()!;
        closed.add(f.groupNo);
        push('(' + f.alts.map((a) => a.map((x) => x.s).join('')).join('|') + ')');
        i++;
        break;
      }
      case '|': {
        stack[stack.length - 1].alts.push([]);
        i++;
        break;
      }
      case '^': push('^', false); i++; break;
      case '$': push('$'); i++; break;
      case '.': push('[^\\n]'); i++; break;
      case '*': case '+': case '?': quantify(c); i++; break;
      case '{': {
        const m = /^\{(\d*)(,(\d*))?\}/.exec(src.slice(i));
        if (!m || (m[1] === '' && m[2] === undefined)) throw new RegexSyntaxError('invalid interval');
        const lo = m[1] === '' ? 0 : Number(m[1]);
        const hi = m[2] === undefined ? lo : m[3] === '' ? Infinity : Number(m[3]);
        if (lo > RE_DUP_MAX || (hi !== Infinity && hi > RE_DUP_MAX) || hi < lo) throw new RegexSyntaxError('invalid interval');
        quantify(m[2] === undefined ? `{${lo}}` : hi === Infinity ? `{${lo},}` : `{${lo},${hi}}`);
        i += m[0].length;
        break;
      }
      case '[': {
        const [cls, next] = parseBracket(src, i);
        push(cls);
        i = next;
        break;
      }
      case '\\': {
        if (i + 1 >= src.length) throw new RegexSyntaxError('trailing backslash');
        const d = src[i + 1];
        i += 2;
        if (d >= '1' && d <= '9') {
          const n = Number(d);
          if (!closed.has(n)) throw new RegexSyntaxError('invalid back reference');
          push(`\\${n}`);
        } else if (d === 'w') push('[0-9A-Za-z_]');
        else if (d === 'W') push('[^0-9A-Za-z_]');
        else if (d === 's') push('[ \\t\\n\\v\\f\\r]');
        else if (d === 'S') push('[^ \\t\\n\\v\\f\\r]');
        else if (d === 'b') push('\\b', false);
        else if (d === 'B') push('\\B', false);
        else if (d === '<') push('\\b(?=[0-9A-Za-z_])', false);
        else if (d === '>') push('\\b(?<=[0-9A-Za-z_])', false);
        else if (d === '`') push('(?<![\\s\\S])', false);
        else if (d === "'") push('(?![\\s\\S])', false);
        else push(litChar(d.charCodeAt(0)));
        break;
      }
      default:
        push(litChar(c.charCodeAt(0)));
        i++;
    }
  }
  if (stack.length !== 1) throw new RegexSyntaxError('unmatched ( or \\(');
  return stack[0].alts.map((a) => a.map((x) => x.s).join('')).join('|');
}

/** Compile a POSIX ERE for matching latin1 line strings. Throws RegexSyntaxError. */
export function compileEre(src: string): RegExp {
  const js = translateEre(src);
  try {
    return new RegExp(js);
  } catch (e) {
    throw new RegexSyntaxError((e as Error).message);
  }
}
