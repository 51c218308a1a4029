// execline's word rules (src/rc/lexer.ts): the documented cases, then a differential test against Debian's
// execlineb on random scripts (the same parser s6-rc-compile uses for `up` and `down`).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import { lexExecline } from '../../src/rc/lexer';

const lex = (s: string | Buffer) => lexExecline(typeof s === 'string' ? Buffer.from(s, 'latin1') : s);

test('words, quotes, escapes and comments', () => {
  assert.deepEqual(lex('echo hello  world\n'), { ok: true, argv: ['echo', 'hello', 'world'] });
  assert.deepEqual(lex('echo "a b" c"d e"f'), { ok: true, argv: ['echo', 'a b', 'cd ef'] });
  assert.deepEqual(lex('# a comment\necho x#y # z\n'), { ok: true, argv: ['echo', 'x#y'] });
  assert.deepEqual(lex('echo \\n \\"q\\" a\\ b'), { ok: true, argv: ['echo', 'n', '"q"', 'a b'] });
  assert.deepEqual(lex('"\\t\\n\\a" "\\0x41\\101\\0101" "\\x\\c"'), { ok: true, argv: ['\t\n\x07', 'AeA', 'xc'] });
  assert.deepEqual(lex('"a\\\nb"'), { ok: true, argv: ['ab'] }, 'backslash-newline in quotes vanishes');
  assert.deepEqual(lex('a \\\n b'), { ok: true, argv: ['a', 'b'] });
  assert.deepEqual(lex('""'), { ok: true, argv: [''] });
  assert.deepEqual(lex('a\x00b c'), { ok: true, argv: ['a'] }, 'NUL ends the input');
  assert.deepEqual(lex('a\tb\rc\x01d'), { ok: true, argv: ['a', 'b', 'c', 'd'] }, 'bytes 1..32 separate words');
});

test('blocks: a bare { vanishes, words inside are indented, a bare } is a word', () => {
  assert.deepEqual(lex('foreground { echo "in x" }'), { ok: true, argv: ['foreground', ' echo', ' in x', ''] });
  assert.deepEqual(lex('if { if { true } } echo'), { ok: true, argv: ['if', ' if', '  true', ' ', '', 'echo'] });
  assert.deepEqual(lex('a {b} c'), { ok: true, argv: ['a', '{b}', 'c'] }, 'braces inside a word are letters');
});

test('comment-only and empty files give an empty argv (the oneshot always succeeds)', () => {
  assert.deepEqual(lex(''), { ok: true, argv: [] });
  assert.deepEqual(lex('# nothing to do here\n#\n   \n'), { ok: true, argv: [] });
});

test('syntax errors', () => {
  assert.deepEqual(lex('a }'), { ok: false, error: 'unmatched }' });
  assert.deepEqual(lex('a { b'), { ok: false, error: 'unmatched {' });
  assert.deepEqual(lex('a {'), { ok: false, error: '' }, '{ at the very end');
  assert.deepEqual(lex('a "b'), { ok: false, error: '' }, 'unterminated quote');
  assert.deepEqual(lex('a b\\'), { ok: false, error: '' }, 'backslash at the end of a word');
  assert.deepEqual(lex('"\\256"'), { ok: false, error: '' }, 'above 255');
  assert.deepEqual(lex('"\\0"'), { ok: false, error: '' }, 'byte 0');
  assert.deepEqual(lex('"\\0x"'), { ok: false, error: '' }, 'hex without digits');
});

test('a 1 MB input lexes in bounded time and memory', () => {
  const big = Buffer.alloc(1 << 20, 'word "q q" ');
  const r = lex(big);
  assert.ok(r.ok);
  assert.ok(r.argv.length > 100000);
});

// -------------------------------------------------------------------------------------- differential

const execlineb = ['/usr/bin/execlineb', '/bin/execlineb'].find((p) => fs.existsSync(p));

/** xorshift32: the same scripts every run */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

const PIECES = [
  'a', 'b', 'foo', ' ', ' ', '  ', '\n', '\t', '{', '}', ' { ', ' } ', '"', '"', '\\', '\\', '#', 'x', '0', '1',
  '7', '8', '9', 'f', 'n', 'A', 'e', '\x01', '\xe9', '\xc3\xa9', '\x00', '\r', '"\\0x4', '"\\12', '\\\n',
];

test('the lexer agrees with execlineb on 400 random scripts (words and errors)', () => {
  assert.ok(execlineb, 'execlineb is installed (.ci/deps installs execline)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-lex-'));
  try {
    const dumper = path.join(dir, 'dump');
    fs.writeFileSync(dumper, '#!/bin/sh\nprintf "%s\\0" "$#" "$@"\n', { mode: 0o755 });
    const script = path.join(dir, 'script');
    const r = rng(20240607);
    let agreed = 0;
    for (let i = 0; i < 400; i++) {
      let body = '';
      const n = 1 + Math.floor(r() * 14);
      for (let k = 0; k < n; k++) body += PIECES[Math.floor(r() * PIECES.length)];
      const bytes = Buffer.concat([Buffer.from(`${dumper} `), Buffer.from(body, 'latin1')]);
      fs.writeFileSync(script, bytes);
      const ref: SpawnSyncReturns<Buffer> = spawnSync(execlineb as string, ['-P', script], { timeout: 10000 });
      const mine = lexExecline(bytes);
      const label = `script ${JSON.stringify(body)}`;
      if (ref.status === 100) {
        assert.equal(mine.ok, false, `${label}: execlineb refused it (${ref.stderr.toString().trim()}), vigil lexed ${JSON.stringify(mine)}`);
        const said = ref.stderr.toString();
        if (!mine.ok && mine.error) assert.ok(said.includes(mine.error), `${label}: execlineb said ${said.trim()}, vigil ${mine.error}`);
        if (!mine.ok && !mine.error) assert.ok(said.includes('syntax error'), `${label}: execlineb said ${said.trim()}`);
      } else {
        assert.equal(ref.status, 0, `${label}: execlineb exited ${ref.status} ${ref.stderr}`);
        assert.ok(mine.ok, `${label}: execlineb accepted it, vigil said ${JSON.stringify(mine)}`);
        // "$#" first: printf with no argument would still print one empty field
        const words = ref.stdout.subarray(0, ref.stdout.length - 1).toString('latin1').split('\0').slice(1);
        const expected = words.map((w: string) => Buffer.from(w, 'latin1').toString('utf8'));
        assert.deepEqual(mine.ok && mine.argv.slice(1), expected, label);
      }
      agreed++;
    }
    assert.equal(agreed, 400);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
