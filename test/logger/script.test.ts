// Bad scripts: `vigil log` exits like s6-log (100) with the same message naming the offending directive.
// Regex selections: for each POSIX ERE, `vigil log` selects exactly the lines Debian's s6-log selects.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Kind, mkTmp, runWithFile, maskProg } from './harness';
import { translateEre, RegexSyntaxError } from '../../src/logger/regex';
import { parseScript, ScriptError } from '../../src/logger/script';

const BAD: string[][] = [
  ['e'], ['x'], ['tt'], ['f1'], ['1x'], ['22'], ['='], ['n'], ['t'], ['p'],
  ['nabc', '1'], ['n-1', '1'], ['s5000', 'l2501', '1'], ['+[', '1'], ['--', '-(', '1'], ['E', '1'], ['Eabc', '1'],
  ['^', '1'], ['r', '1'], ['S', '1'], ['Sx', '1'], ['n', '1'], ['r99999999999', '1'], ['n99999999999', '1'],
  ['+a{2', '1'], ['+*a', '1'], ['+a|*b', '1'], ['+[z-a]', '1'], ['+(a)\\2', '1'], ['+[[:foo:]]', '1'], ['+a\\', '1'],
  ['+a{1,99999}', '1'], ['+((a)', '1'], ['2', 'y', '1'],
];

test('bad scripts: same exit code and message as s6-log, naming the directive', { timeout: 60000 }, () => {
  const tmp = mkTmp('vigil-logscript-');
  try {
    const problems: string[] = [];
    // the parser in-process for every script (s6-log runs for each), the whole CLI for a few
    for (const script of BAD) {
      const s6 = runWithFile('s6', script, Buffer.from('hello\n'), tmp);
      let mine = 'accepted';
      try {
        parseScript(script[0] === '--' ? script.slice(1) : script);
      } catch (e) {
        if (!(e instanceof ScriptError)) throw e;
        mine = `PROG: fatal: ${e.message}\n`;
      }
      const theirs = maskProg(s6.stderr.toString());
      if (s6.status !== 100 || theirs !== mine) problems.push(`${JSON.stringify(script)}: s6-log ${s6.status} ${JSON.stringify(theirs)} vs vigil ${JSON.stringify(mine)}`);
    }
    for (const script of [BAD[0], BAD[12], BAD[13], BAD[BAD.length - 1]]) {
      const s6 = runWithFile('s6', script, Buffer.from('hello\n'), tmp);
      const v = runWithFile('vigil', script, Buffer.from('hello\n'), tmp);
      if (v.status !== 100 || maskProg(v.stderr.toString()) !== maskProg(s6.stderr.toString())) {
        problems.push(`CLI ${JSON.stringify(script)}: s6-log ${s6.status} ${JSON.stringify(s6.stderr.toString())} vs vigil ${v.status} ${JSON.stringify(v.stderr.toString())}`);
      }
    }
    assert.deepEqual(problems, []);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('usage errors exit 100 (bad option, missing script, bad -l)', { timeout: 30000 }, () => {
  const tmp = mkTmp('vigil-logusage-');
  try {
    for (const args of [['-d', '1', '1'], ['-d', '40', '1']]) {
      const s6 = runWithFile('s6', args, Buffer.from('x\n'), tmp);
      const v = runWithFile('vigil', args, Buffer.from('x\n'), tmp);
      assert.equal(s6.status, 100);
      assert.equal(v.status, 100);
      assert.equal(maskProg(v.stderr.toString()), maskProg(s6.stderr.toString()), `-d ${args[1]}`);
    }
    for (const args of [['-z', '1'], [], ['-l'], ['-l', 'abc', '1'], ['-(', '1']]) {
      const s6 = runWithFile('s6', args, Buffer.from('x\n'), tmp);
      const v = runWithFile('vigil', args, Buffer.from('x\n'), tmp);
      assert.equal(s6.status, 100, `s6-log ${JSON.stringify(args)}`);
      assert.equal(v.status, 100, `vigil log ${JSON.stringify(args)}: ${v.stderr}`);
      assert.match(v.stderr.toString(), /^vigil log: usage: /, JSON.stringify(args));
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

const PATTERNS = [
  'a**', 'a{,2}', 'a|', '()', '\\n', '[\\]', 'a\\{2\\}', 'a{1}{2}', '$a', 'a^', '[[:alpha:]-]', '[a-]', '[]]', '\\w', '\\W',
  '\\<a', 'a\\>', '.', '^.$', '(a)\\1', '[[:upper:]]', '\\*a', 'a{0}', '^$', '[^a]', 'x|^\\+', '\\a', '[[.*.]]', 'a+?',
  '\\^a', ')', 'a)', '[[=a=]]', 'a{1,}', '(|a)', '(^a)', 'a|^', 'a{1}*', '\\(', '[[:space:]]', '[[:punct:]]+$', '\\s',
  '\\S+\\s\\S+', '\\bx', '\\Bx', 'x\\b', '^[^[:alnum:]]', '[[:xdigit:]]{4}', '[[:cntrl:]]', '[[:print:]]{3}', '\\.',
  '(ab|cd)+e', 'a?b+c*', '^[0-9]{2,3}[^0-9]', 'é', '[é]', '[^[:print:]]', '\r', '[.]', '[*+?{}()|^$]', '\\`a', "a\\'",
  '\\|', '\\?', 'a.c', '[a-c-]', '[-a]', '[]a]', '[^]a]', '(a|b)(c|d)\\2', '\\)', '[[:blank:]]', '[[:graph:]]$',
];

test('POSIX ERE selections match exactly the lines s6-log selects', { timeout: 60000 }, () => {
  const input = Buffer.concat([
    Buffer.from([
      'xaa', 'n', '*a', '\\', 'a{2', '+a', '^a', 'A', '\r', '', 'a)', 'ab cd', 'abcde', 'cdcde', 'GET x', 'tab\there',
      '123 abc', '12x', '1234', 'deadbeef', 'a.c', 'abc', 'a-c', ']', '-', 'acdd', 'bdd', 'éa', 'caf\u00e9', '  lead',
      'trail  ', '(x)', '|', '?', 'x.y', 'word boundary', 'xx', 'ax', 'x', '!!!', '{}', 'a^b', '$a', 'ctrl\x01x', '\x7f',
    ].join('\n') + '\n'),
    Buffer.from([0xff, 0x80, 0x41, 0x0a, 0xe9, 0x0a]),
  ]);
  const tmp = mkTmp('vigil-logre-');
  try {
    // one run per program: a group per pattern ("-.*" clears the selection, "+RE" selects, the prefix
    // names the pattern, "1" prints), so each output line says which pattern selected which line
    const script = ['--'];
    PATTERNS.forEach((re, i) => script.push('-.*', `+${re}`, `p#${i}`, '1'));
    const out: Record<string, string[]> = {};
    for (const kind of ['s6', 'vigil'] as Kind[]) {
      const r = runWithFile(kind, script, input, tmp);
      assert.equal(r.status, 0, `${kind}: ${r.stderr}`);
      out[kind] = r.stdout.toString('latin1').split('\n');
    }
    const problems: string[] = [];
    PATTERNS.forEach((re, i) => {
      const pick = (k: string): string => out[k].filter((l) => l.startsWith(`#${i} `)).join('|');
      if (pick('s6') !== pick('vigil')) problems.push(`${re}: s6-log ${JSON.stringify(pick('s6'))} vs vigil ${JSON.stringify(pick('vigil'))}`);
    });
    assert.deepEqual(problems, []);
    assert.ok(out.s6.length > PATTERNS.length * 3, 'the patterns select lines');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('ERE translation: errors s6-log rejects, and JS syntax never leaks through', () => {
  for (const bad of ['*a', '(*a)', 'a{2', '{1}', 'a|*b', '+a', '^*', '[a', 'a\\', '[[:foo:]]', '[z-a]', 'a{2,1}', '\\3', '(a)\\2', 'a{32768}', '[a-c-e]', '((a)']) {
    assert.throws(() => translateEre(bad), RegexSyntaxError, bad);
  }
  // lookaround syntax is not ERE: "(?" has nothing to repeat
  assert.throws(() => translateEre('(?=x)'), RegexSyntaxError);
  // '.' does not match '\n' (REG_NEWLINE) but matches '\r'
  assert.ok(new RegExp(translateEre('^.$')).test('\r'));
  assert.ok(!new RegExp(translateEre('^.$')).test('\n'));
  // stacked quantifiers are not lazy quantifiers
  assert.ok(new RegExp(translateEre('a+?')).test('zzz'));
  void path;
});
