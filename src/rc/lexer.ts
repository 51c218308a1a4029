/**
 * execline's word rules, as s6-rc-compile applies them to a oneshot's `up` and `down` files: bytes → argv.
 * Pure: no I/O. The result is exec'd directly by the engine (no shell, no execlineb, no substitution).
 *
 * The rules (execline 2.9's parser, whose transition table is documented in its PARSING.txt; checked against
 * Debian's execlineb in test/rc/lexer.test.ts):
 * - words are split on whitespace: newline and every byte from 1 to 32;
 * - `#` at the start of a word starts a comment that runs to the end of the line (elsewhere it is a letter);
 * - a backslash outside quotes takes the next byte literally (`\n` is the letter n); at the start of a word,
 *   backslash-newline is a line continuation;
 * - `"..."` is part of a word; inside, `\a \b \t \n \v \f \r` are control characters, `\DDD` (decimal, 1-3
 *   digits), `\0OOO` (octal, 1-3 digits) and `\0xHH` (hex, 1-2 digits) are bytes 1..255, backslash-newline
 *   vanishes, and a backslash before anything else keeps that byte; byte 0 or a value above 255 is an error;
 * - a bare `{` (a word that is only `{`) opens a block and vanishes; a bare `}` closes it and becomes a word
 *   of (level - 1) spaces (the empty word at level 1); every word inside a block is prefixed with one space
 *   per level (`foreground { echo "in x" }` → `foreground`, ` echo`, ` in x`, ``);
 * - a NUL byte ends the input, like the end of the file.
 * Errors: "unmatched {", "unmatched }", or a plain syntax error (an unterminated quote or escape, a bad
 * numeric escape, `{` at the very end). Quirks of the original are kept on purpose (an unterminated quote
 * right after a numeric escape is accepted; `{\` at the start of a word re-indents), since the point is that a
 * file means the same under vigil and under s6-rc.
 *
 * Words are returned as UTF-8 strings (how the native spawn passes argv); a byte sequence that is not UTF-8
 * is replaced with U+FFFD. s6-rc would pass it through untouched: a documented difference (src/rc/README.md).
 */

export type LexResult = { ok: true; argv: string[] } | { ok: false; error: string };

const enum S {
  START, COMMENT, OPENB, CLOSEB, WORD, BS_START, BS_WORD, BS_QUOTE, QUOTE, ZERO, NUM, END, ERR,
}

const enum C {
  EOF, SPACE, HASH, QUOTE, NL, BACKSLASH, OTHER, ABF, OCT, DEC89, ZERO, NRTV, X, HEXLETTER, OPEN, CLOSE,
}

const CLASS: Uint8Array = (() => {
  const t = new Uint8Array(256).fill(C.OTHER);
  t[0] = C.EOF;
  for (let b = 1; b <= 32; b++) t[b] = C.SPACE;
  t[10] = C.NL;
  t[0x23] = C.HASH;
  t[0x22] = C.QUOTE;
  t[0x5c] = C.BACKSLASH;
  t[0x7b] = C.OPEN;
  t[0x7d] = C.CLOSE;
  t[0x30] = C.ZERO;
  for (const ch of '1234567') t[ch.charCodeAt(0)] = C.OCT;
  for (const ch of '89') t[ch.charCodeAt(0)] = C.DEC89;
  for (const ch of 'abf') t[ch.charCodeAt(0)] = C.ABF;
  for (const ch of 'nrtv') t[ch.charCodeAt(0)] = C.NRTV;
  t[0x78] = C.X;
  for (const ch of 'ABCDEFcde') t[ch.charCodeAt(0)] = C.HEXLETTER;
  return t;
})();

/** `\a \b \t \n \v \f \r` → 7..13 */
const CONTROL: Record<number, number> = { 0x61: 7, 0x62: 8, 0x74: 9, 0x6e: 10, 0x76: 11, 0x66: 12, 0x72: 13 };

function isDigitOf(cls: C, base: number): boolean {
  if (base === 8) return cls === C.OCT || cls === C.ZERO;
  if (base === 10) return cls === C.OCT || cls === C.ZERO || cls === C.DEC89;
  return cls === C.OCT || cls === C.ZERO || cls === C.DEC89 || cls === C.ABF || cls === C.HEXLETTER;
}

/** Lex a whole file's bytes into an argv (see the header for the rules). */
export function lexExecline(input: Uint8Array): LexResult {
  // One byte array holding every word, each ended by a 0 (a word cannot contain 0), as the original keeps
  // them: the block rules remove bytes from its tail, which the quirks depend on.
  let out = new Uint8Array(Math.max(64, input.length * 2 + 16));
  let len = 0;
  const push = (b: number): void => {
    if (len === out.length) {
      const bigger = new Uint8Array(out.length * 2);
      bigger.set(out);
      out = bigger;
    }
    out[len++] = b;
  };
  let words = 0;
  let level = 0;
  let state = S.START;
  // numeric escape: digits seen, their base, the most allowed, the value so far
  let base = 10;
  let digits = 0;
  let maxDigits = 3;
  let value = 0;

  const indent = (): void => {
    for (let i = 0; i < level; i++) push(0x20);
  };
  const endWord = (): void => {
    push(0);
    words++;
  };

  for (let pos = 0; state !== S.END && state !== S.ERR; pos++) {
    const b = pos < input.length ? input[pos] : 0;
    const cls = CLASS[b] as C;

    if (state === S.NUM) {
      if (digits < maxDigits && isDigitOf(cls, base)) {
        value = value * base + parseInt(String.fromCharCode(b), 16);
        digits++;
        if (value > 0xffff) value = 0xffff; // stays "too big" without overflowing
        continue;
      }
      // the number ends here: it must be a byte from 1 to 255; this byte is then read as in a quote,
      // except that the end of the input is accepted (ending the word)
      if (value === 0 || value > 255) {
        state = S.ERR;
        break;
      }
      push(value);
      if (cls === C.EOF) {
        endWord();
        state = S.END;
        break;
      }
      state = S.QUOTE;
      // fall through to QUOTE handling of this byte
    }

    switch (state) {
      case S.START:
        switch (cls) {
          case C.EOF: state = S.END; break;
          case C.SPACE: case C.NL: break;
          case C.HASH: state = S.COMMENT; break;
          case C.QUOTE: indent(); state = S.QUOTE; break;
          case C.BACKSLASH: state = S.BS_START; break;
          case C.OPEN: indent(); push(b); state = S.OPENB; break;
          case C.CLOSE: indent(); push(b); state = S.CLOSEB; break;
          default: indent(); push(b); state = S.WORD;
        }
        break;
      case S.COMMENT:
        if (cls === C.EOF) state = S.END;
        else if (cls === C.NL) state = S.START;
        break;
      case S.OPENB:
      case S.CLOSEB:
        if (cls === C.EOF || cls === C.SPACE || cls === C.NL) {
          if (state === S.OPENB) {
            if (cls === C.EOF) {
              state = S.ERR;
              break;
            }
            // the word was (level spaces + "{"): it vanishes and the level goes up
            level++;
            len -= level;
            state = S.START;
          } else {
            if (level === 0) return { ok: false, error: 'unmatched }' };
            level--;
            len -= 2; // "}" and one space of indentation: (level) spaces remain, a word
            endWord();
            state = cls === C.EOF ? S.END : S.START;
          }
        } else if (cls === C.QUOTE) state = S.QUOTE;
        else if (cls === C.BACKSLASH) state = S.BS_START;
        else {
          push(b);
          state = S.WORD;
        }
        break;
      case S.WORD:
        switch (cls) {
          case C.EOF: endWord(); state = S.END; break;
          case C.SPACE: case C.NL: endWord(); state = S.START; break;
          case C.QUOTE: state = S.QUOTE; break;
          case C.BACKSLASH: state = S.BS_WORD; break;
          default: push(b);
        }
        break;
      case S.BS_START:
        if (cls === C.EOF) state = S.END;
        else if (cls === C.NL) state = S.START;
        else {
          indent();
          push(b);
          state = S.WORD;
        }
        break;
      case S.BS_WORD:
        if (cls === C.EOF) state = S.ERR;
        else {
          push(b);
          state = S.WORD;
        }
        break;
      case S.QUOTE:
        if (cls === C.EOF) state = S.ERR;
        else if (cls === C.QUOTE) state = S.WORD;
        else if (cls === C.BACKSLASH) state = S.BS_QUOTE;
        else push(b);
        break;
      case S.BS_QUOTE:
        switch (cls) {
          case C.EOF: state = S.ERR; break;
          case C.NL: state = S.QUOTE; break;
          case C.ABF: case C.NRTV: push(CONTROL[b]); state = S.QUOTE; break;
          case C.OCT: case C.DEC89:
            base = 10;
            maxDigits = 3;
            digits = 1;
            value = b - 0x30;
            state = S.NUM;
            break;
          case C.ZERO: state = S.ZERO; break;
          default: push(b); state = S.QUOTE;
        }
        break;
      case S.ZERO:
        // after \0: octal digits, or x and hex digits; anything else is an error
        if (cls === C.OCT || cls === C.ZERO) {
          base = 8;
          maxDigits = 3;
          digits = 1;
          value = b - 0x30;
          state = S.NUM;
        } else if (cls === C.X) {
          base = 16;
          maxDigits = 2;
          digits = 0;
          value = 0;
          state = S.NUM;
          // the first hex digit is mandatory
          const nb = pos + 1 < input.length ? input[pos + 1] : 0;
          if (!isDigitOf(CLASS[nb] as C, 16)) state = S.ERR;
        } else state = S.ERR;
        break;
      default:
        break;
    }
  }
  if (state === S.ERR) return { ok: false, error: '' };
  if (level > 0) return { ok: false, error: 'unmatched {' };
  const argv: string[] = [];
  let start = 0;
  for (let i = 0; i < len && argv.length < words; i++) {
    if (out[i] === 0) {
      argv.push(Buffer.from(out.buffer, out.byteOffset + start, i - start).toString('utf8'));
      start = i + 1;
    }
  }
  return { ok: true, argv };
}
