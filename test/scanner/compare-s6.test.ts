// The same scan directory under real s6-svscan and under vigil svscan, driven by the same s6-svc commands:
// s6-svstat (human, -n and every -o field) must print the same bytes once digits are masked
// (s6-protocol.md §11 idea 3), and the event bytes must be the same.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { makeTree, removeTree, SLEEP_RUN } from '../helpers/scandir';
import { startVigilSvscan, startS6Svscan, tool, Bg, maskDigits } from '../helpers/svscan';
import { waitStatus, waitUp, waitDown, recordEvents, sleep } from '../helpers/wait';
import { SvStatus } from '../../src/formats/status';

const TREE = {
  'up/run!': SLEEP_RUN,
  'wantdown/run!': SLEEP_RUN,
  'sig/run!': SLEEP_RUN,
  'exit3/run!': '#!/bin/sh\nexit 3\n',
  'exit3/down': '',
  'normdown/run!': SLEEP_RUN,
  'normdown/down': '',
  'paused/run!': SLEEP_RUN,
  'finishing/run!': SLEEP_RUN,
  'finishing/finish!': '#!/bin/sh\nexec sleep 3\n',
  'ready/run!': '#!/bin/sh\necho >&5\nexec sleep 1000000\n',
  'ready/notification-fd': '5\n',
  'upnormdown/run!': SLEEP_RUN,
  'upnormdown/down': '',
};
const FIELDS = 'up,wantedup,normallyup,ready,paused,pid,exitcode,signal,signum,updownsince,readysince,updownfor,readyfor';

let s6dir = '';
let vdir = '';
const procs: Bg[] = [];

before(async () => {
  s6dir = makeTree(TREE);
  vdir = makeTree(TREE);
  procs.push(await startS6Svscan(s6dir));
  procs.push(await startVigilSvscan(vdir));
});
after(() => {
  for (const p of procs) p.kill();
  removeTree(s6dir);
  removeTree(vdir);
});

/** run the same step on both trees */
async function both(fn: (root: string) => Promise<unknown>): Promise<void> {
  await Promise.all([fn(s6dir), fn(vdir)]);
}
const svc = (root: string, name: string) => path.join(root, name);
const mask = (s: string) => maskDigits(s.replace(/@[0-9a-f]{24}/g, '@TAI'));

async function compare(name: string): Promise<string> {
  const out: string[] = [];
  for (const args of [[], ['-n'], ['-o', FIELDS]]) {
    const a = await tool('s6-svstat', [...args, svc(s6dir, name)]);
    const b = await tool('s6-svstat', [...args, svc(vdir, name)]);
    assert.equal(b.code, a.code, `${name} ${args.join(' ')}: exit ${b.code} vs s6 ${a.code}: ${b.stderr}`);
    assert.equal(mask(b.stdout), mask(a.stdout), `${name} s6-svstat ${args.join(' ')}`);
    out.push(a.stdout);
  }
  return out.join('');
}

const until = (name: string, pred: (s: SvStatus) => boolean, what: string) =>
  both((root) => waitStatus(svc(root, name), pred, 5000, what));

test('up', async () => {
  await both((r) => waitUp(svc(r, 'up')));
  assert.match(await compare('up'), /^up \(pid/);
});

test('up, want down (-O)', async () => {
  await both((r) => waitUp(svc(r, 'wantdown')));
  await both((r) => tool('s6-svc', ['-O', svc(r, 'wantdown')]));
  await until('wantdown', (s) => !s.wantUp, 'want down');
  assert.match(await compare('wantdown'), /want down/);
});

test('down by signal (-d)', async () => {
  await both((r) => waitUp(svc(r, 'sig')));
  await both((r) => tool('s6-svc', ['-wD', '-T', '3000', '-d', svc(r, 'sig')]));
  assert.match(await compare('sig'), /^down \(signal SIGTERM\)/);
});

test('down, exit 3, normally down (-o)', async () => {
  await both((r) => tool('s6-svc', ['-o', svc(r, 'exit3')]));
  await until('exit3', (s) => s.pid === 0 && s.wstat === 3 << 8 && s.ready, 'exit 3');
  assert.match(await compare('exit3'), /^down \(exitcode 3\)/);
});

test('normally down, never started', async () => {
  assert.match(await compare('normdown'), /^down \(exitcode 0\)/);
});

test('up, normally down', async () => {
  await both((r) => tool('s6-svc', ['-u', svc(r, 'upnormdown')]));
  await both((r) => waitUp(svc(r, 'upnormdown')));
  assert.match(await compare('upnormdown'), /normally down/);
});

test('paused (-p)', async () => {
  await both((r) => waitUp(svc(r, 'paused')));
  await both((r) => tool('s6-svc', ['-p', svc(r, 'paused')]));
  await until('paused', (s) => s.paused, 'paused');
  assert.match(await compare('paused'), /paused/);
  await both((r) => tool('s6-svc', ['-c', svc(r, 'paused')]));
});

test('finishing (finish sleeps)', async () => {
  await both((r) => waitUp(svc(r, 'finishing')));
  await both((r) => tool('s6-svc', ['-k', svc(r, 'finishing')]));
  await until('finishing', (s) => s.finishing, 'finishing');
  assert.match(await compare('finishing'), /^down \(signal SIGKILL\).*want up/);
});

test('ready (notification-fd)', async () => {
  await until('ready', (s) => s.pid !== 0 && s.ready, 'up and ready');
  assert.match(await compare('ready'), /ready [0-9]+ seconds/);
});

test('event bytes for -r, -dx and a new supervisor are the same', async () => {
  const rec = [recordEvents(svc(s6dir, 'up', ) + '/event'), recordEvents(svc(vdir, 'up') + '/event')];
  try {
    await both((r) => tool('s6-svc', ['-r', svc(r, 'up')]));
    await sleep(200);
    await both((r) => waitUp(svc(r, 'up'), 4000));
    await both((r) => tool('s6-svc', ['-dx', svc(r, 'up')]));
    await Promise.all(rec.map((e) => e.waitMatch(/x.*s.*u/, 5000)));
    assert.equal(rec[1].bytes(), rec[0].bytes());
    assert.equal(rec[0].bytes(), 'dDudDxsu');
  } finally {
    for (const e of rec) e.close();
  }
  await both((r) => waitDown(svc(r, 'sig')));
});
