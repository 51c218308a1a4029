/**
 * The pure parts of the client tools: skalibs-style option parsing, s6-svstat's -o field rules, the human
 * line's suffix order, wait-status decoding, and vigil status's durations.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { subgetopt, scanUint } from '../../src/formats/clientopts';
import { parseFields, renderHuman, renderFields, FieldError, secondsSince } from '../../src/formats/svstat';
import { s6SigName } from '../../src/sys/signals';
import { humanDuration } from '../../src/cli/status';
import { SvStatus } from '../../src/formats/status';
import { tainFromUnixMs } from '../../src/formats/tai64n';

test('subgetopt: grouped letters, attached and separate arguments, -- and the first operand end options', () => {
  assert.deepEqual(subgetopt(['-wu', '-T100', '-du', 'DIR', '-x'], 'duT:w:'), {
    opts: [{ letter: 'w', arg: 'u' }, { letter: 'T', arg: '100' }, { letter: 'd' }, { letter: 'u' }],
    rest: ['DIR', '-x'],
  });
  assert.deepEqual(subgetopt(['-T', '5', '--', '-dir'], 'T:'), { opts: [{ letter: 'T', arg: '5' }], rest: ['-dir'] });
  assert.deepEqual(subgetopt(['-', 'x'], 'a'), { opts: [], rest: ['-', 'x'] });
  assert.throws(() => subgetopt(['-z', 'd'], 'a'));
  assert.throws(() => subgetopt(['-T'], 'T:'));
  assert.throws(() => subgetopt(['--help'], 'a'));
  assert.equal(scanUint('0'), 0);
  assert.equal(scanUint('4294967295'), 4294967295);
  assert.equal(scanUint('4294967296'), undefined);
  assert.equal(scanUint('12x'), undefined);
  assert.equal(scanUint(''), undefined);
  assert.equal(scanUint('-1'), undefined);
});

test('svstat -o: prefixes pick the first entry, null fields and more than 16 are errors', () => {
  const f: string[] = [];
  parseFields('u,p,e,s,r,re,readyf,updownf,n,w,sig,', f);
  assert.deepEqual(f, ['up', 'paused', 'exitcode', 'signal', 'ready', 'ready', 'readyfor', 'updownfor', 'normallyup', 'wantedup', 'signal']);
  assert.throws(() => parseFields('up,,pid', []), (e: Error) => e instanceof FieldError && e.message === 'invalid null option field');
  assert.throws(() => parseFields('upx', []), /invalid option field: upx/);
  assert.throws(() => parseFields(Array(17).fill('up').join(','), []), /too many option fields/);
  const empty: string[] = [];
  parseFields('', empty);
  assert.deepEqual(empty, []);
});

test('svstat human line: suffix order and the ready quirk', () => {
  const now = tainFromUnixMs(1_800_000_000_000);
  const ago = (s: number) => tainFromUnixMs(1_800_000_000_000 - s * 1000);
  const st = (x: Partial<SvStatus>): SvStatus => ({ stamp: ago(5), readyStamp: ago(3), pid: 0, wstat: 0, paused: false, finishing: false, wantUp: false, ready: false, ...x });
  assert.equal(renderHuman({ status: st({ pid: 9, paused: true, ready: true }), normallyUp: false, now }, false), 'up (pid 9) 5 seconds, normally down, paused, want down, ready 3 seconds');
  assert.equal(renderHuman({ status: st({ wstat: 0x8b, wantUp: true, ready: true }), normallyUp: true, now }, false), 'down (signal SIGSEGV) 5 seconds, normally up, want up, ready 3 seconds');
  assert.equal(renderHuman({ status: st({ wstat: 9 }), normallyUp: true, now }, true), 'down (signal 9) 5 seconds, normally up');
  assert.equal(renderHuman({ status: st({ pid: 7, finishing: true, wstat: 3 << 8, wantUp: true }), normallyUp: true, now }, false), 'down (exitcode 3) 5 seconds, normally up, want up');
  assert.equal(renderFields({ status: st({ ready: true }), normallyUp: true, now }, ['ready', 'pid', 'exitcode', 'signal', 'signum']), 'false -1 0 NA -1');
  assert.equal(renderFields({ status: st({ wstat: 0x7f }), normallyUp: true, now }, ['exitcode', 'signal']), '-1 NA');
  assert.equal(s6SigName(29), 'POLL');
  assert.equal(s6SigName(34), '???');
  assert.equal(secondsSince(now, tainFromUnixMs(1_800_000_000_000 + 2000)), (2n ** 64n - 2n).toString(), 'a ready stamp in the future wraps');
});

test('status durations', () => {
  assert.equal(humanDuration(0), '0s');
  assert.equal(humanDuration(59), '59s');
  assert.equal(humanDuration(125), '2m05s');
  assert.equal(humanDuration(3720), '1h02m');
  assert.equal(humanDuration(3 * 86400 + 4 * 3600 + 59), '3d4h');
});
