// Pure parts of vigil init: the shutdown record parser, shutdown TIME, the envdir reader, the command line,
// the mode decision, PATH resolution for CMD.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeShutdown, parseShutdownTime, RecordParser } from '../../src/init/protocol';
import { readEnvdir } from '../../src/init/envdir';
import { parseInitArgs, UsageError, InitOptions } from '../../src/init/options';
import { decideMode } from '../../src/init/mode';
import { resolveCmd } from '../../src/init/init';
import { makeTree, removeTree } from '../helpers/scandir';

test('record parser: cancel, records split across reads, unknown bytes, grace over 300 s ignored', () => {
  const p = new RecordParser();
  const rec = encodeShutdown('r', 90500, 1234);
  assert.deepEqual(p.feed(Buffer.concat([Buffer.from('c'), rec.subarray(0, 5)])), [{ kind: 'cancel' }]);
  assert.equal(p.pendingLength, 5);
  assert.deepEqual(p.feed(Buffer.concat([rec.subarray(5), Buffer.from('x')])), [
    { kind: 'shutdown', what: 'r', delayMs: 90500, graceMs: 1234 },
    { kind: 'unknown', byte: 0x78 },
  ]);
  assert.deepEqual(p.feed(encodeShutdown('h', 0, 300001)), [{ kind: 'shutdown', what: 'h', delayMs: 0, graceMs: 0 }]);
  assert.deepEqual([...encodeShutdown('p', 2500, 7)], [0x70, 0, 0, 0, 0, 0, 0, 0, 2, 0x1d, 0xcd, 0x65, 0, 0, 0, 0, 7]);
});

test('shutdown TIME: now, +m, m, hh:mm (next occurrence), garbage', () => {
  const now = new Date(2026, 0, 1, 10, 30, 0, 0);
  assert.equal(parseShutdownTime('now', now), 0);
  assert.equal(parseShutdownTime('+5', now), 300000);
  assert.equal(parseShutdownTime('5', now), 300000);
  assert.equal(parseShutdownTime('10:45', now), 15 * 60000);
  assert.equal(parseShutdownTime('10:15', now), (24 * 60 - 15) * 60000);
  for (const bad of ['soon', '25:00', '10:61', '-3', '']) assert.equal(parseShutdownTime(bad, now), null, bad);
});

test('envdir: first line, trailing blanks trimmed, NUL → newline, empty file unsets, dot files skipped', (t) => {
  const d = makeTree({ A: 'one\ntwo\n', B: 'spaces  \t\n', C: '', '.hidden': 'x', D: 'a\0b' });
  t.after(() => removeTree(d));
  assert.deepEqual(readEnvdir(d), { A: 'one', B: 'spaces', C: null, D: 'a\nb' });
  assert.deepEqual(readEnvdir(path.join(d, 'missing')), {});
});

test('command line: defaults, flags, -- CMD, -- alone, kernel leftovers, errors', () => {
  const o = parseInitArgs([]);
  assert.ok(o !== 'help');
  assert.deepEqual(o, { basedir: '/etc/vigil', rundir: '/run', graceMs: 3000, noLoggerWait: false, logCopy: false, externalLogger: false, loggerTimeoutMs: 2000, rcTimeoutMs: 0, onRcFailure: 'continue', cmd: [], extra: [], s6Overlay: false, basedirGiven: false });
  assert.equal((parseInitArgs(['--container', '--log-copy']) as InitOptions).logCopy, true);
  const p = parseInitArgs(['--container', '--basedir=/b', '--rundir', '/r', '--grace', '10', '--no-logger-wait', 'single', '--', 'nginx', '--', '-g']);
  assert.ok(p !== 'help');
  assert.equal(p.mode, 'container');
  assert.equal(p.basedir, '/b');
  assert.equal(p.basedirGiven, true);
  assert.equal((parseInitArgs(['--s6-overlay']) as InitOptions).s6Overlay, true);
  assert.equal(p.rundir, '/r');
  assert.equal(p.graceMs, 10);
  assert.equal(p.noLoggerWait, true);
  assert.deepEqual(p.extra, ['single']);
  assert.deepEqual(p.cmd, ['nginx', '--', '-g']);
  const q = parseInitArgs(['--']);
  assert.ok(q !== 'help' && q.cmd.length === 0);
  assert.equal(parseInitArgs(['--help']), 'help');
  assert.throws(() => parseInitArgs(['--grace', 'x']), UsageError);
  assert.throws(() => parseInitArgs(['--bogus']), UsageError);
});

test('mode: forced; PID 1 with kthreadd as pid 2 = machine; no /proc as PID 1 = machine; else container', () => {
  assert.equal(decideMode('container', { pid: 1, pid2Comm: 'kthreadd', procMounted: true }), 'container');
  assert.equal(decideMode(undefined, { pid: 1, pid2Comm: 'kthreadd', procMounted: true }), 'machine');
  assert.equal(decideMode(undefined, { pid: 1, pid2Comm: null, procMounted: false }), 'machine');
  assert.equal(decideMode(undefined, { pid: 1, pid2Comm: 'node', procMounted: true }), 'container');
  assert.equal(decideMode(undefined, { pid: 4242, pid2Comm: 'kthreadd', procMounted: true }), 'container');
});

test('CMD resolution: PATH search, absolute, 127 missing, 126 not executable or a directory', (t) => {
  const d = makeTree({ 'bin/tool!': '#!/bin/sh\n', 'bin/plain': 'x', 'other/plain': 'y' });
  t.after(() => removeTree(d));
  assert.equal(resolveCmd('tool', `${d}/other:${d}/bin`), path.join(d, 'bin', 'tool'));
  assert.equal(resolveCmd(path.join(d, 'bin', 'tool'), ''), path.join(d, 'bin', 'tool'));
  assert.equal(resolveCmd('nothing-here', `${d}/bin`), 127);
  assert.equal(resolveCmd('plain', `${d}/bin`), 126);
  assert.equal(resolveCmd(path.join(d, 'bin'), ''), 126);
  assert.equal(resolveCmd(path.join(d, 'nope'), ''), 127);
  // from a working directory: ./name and relative PATH entries are taken from it
  assert.equal(resolveCmd('./bin/tool', '', d), path.join(d, 'bin', 'tool'));
  assert.equal(resolveCmd('tool', 'bin', d), path.join(d, 'bin', 'tool'));
  assert.equal(resolveCmd('./tool', '/usr/bin', d), 127);
  assert.ok(fs.existsSync(d));
});
