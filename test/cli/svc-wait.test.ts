/**
 * vigil svc -wu/-wU/-wd/-wD/-wr/-wR (with and without -T) against real s6-supervise: the state is reached
 * when it returns (checked with s6-svstat), -T expiry gives 99, a permanent failure (finish exit 125) gives
 * 1, -wU without notification-fd falls back to -wu with s6's warning. The same scenarios through s6-svc
 * give the same exit codes.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startS6Tree } from '../helpers/cli-tree';
import { SLEEP_RUN } from '../helpers/scandir';
import { tool, vigil } from '../helpers/svscan';
import { waitFor, waitStatus } from '../helpers/wait';

async function o(dir: string, fields: string): Promise<string> {
  return (await tool('s6-svstat', ['-o', fields, dir])).stdout.trim();
}

test('svc -w waits for each state, times out with 99, fails with 1', async (t) => {
  const tree = await startS6Tree({
    'plain/run!': SLEEP_RUN,
    'plain/down': '',
    // ready 0.6 s after start
    'notify/run!': '#!/bin/sh\nsleep 0.6\necho >&3\nexec sleep 1000000\n',
    'notify/notification-fd': '3\n',
    'notify/down': '',
    // never ready
    'mute/run!': SLEEP_RUN,
    'mute/notification-fd': '3\n',
    'mute/down': '',
    // finish takes 1 s
    'slowfin/run!': SLEEP_RUN,
    'slowfin/finish!': '#!/bin/sh\nsleep 1\n',
    // permanent failure: dies after 0.3 s, finish says 125
    'perm/run!': '#!/bin/sh\nsleep 0.3\nexit 1\n',
    'perm/finish!': '#!/bin/sh\nexit 125\n',
    'perm/notification-fd': '3\n',
    'perm/down': '',
  });
  t.after(() => tree.stop());
  const d = tree.dir;

  // -wu -u: up when it returns
  let r = await vigil(['svc', '-wu', '-u', d('plain')]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await o(d('plain'), 'up'), 'true');

  // -wd -d: down when it returns
  r = await vigil(['svc', '-wd', '-T', '5000', '-d', d('plain')]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await o(d('plain'), 'up'), 'false');

  // -wU -u: up AND ready (readiness comes 0.6 s after the start)
  r = await vigil(['svc', '-wU', '-T', '8000', '-u', d('notify')]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await o(d('notify'), 'up,ready'), 'true true');
  const pid1 = await o(d('notify'), 'pid');

  // -wR -r: a new run, ready again
  r = await vigil(['svc', '-wR', '-T', '8000', '-r', d('notify')]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await o(d('notify'), 'up,ready'), 'true true');
  assert.notEqual(await o(d('notify'), 'pid'), pid1, 'restarted');

  // -wr -r: restarted (up) when it returns
  const pid2 = await o(d('notify'), 'pid');
  r = await vigil(['svc', '-wr', '-T', '8000', '-r', d('notify')]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await o(d('notify'), 'up'), 'true');
  assert.notEqual(await o(d('notify'), 'pid'), pid2, 'restarted');

  // -wD -d: returns only after finish (1 s) is done
  await waitStatus(d('slowfin'), (s) => s.pid !== 0, 5000, 'slowfin up');
  const t0 = Date.now();
  r = await vigil(['svc', '-wD', '-T', '8000', '-d', d('slowfin')]);
  const took = Date.now() - t0;
  assert.equal(r.code, 0, r.stderr);
  assert.ok(took >= 900, `-wD returned after ${took} ms, before finish could end`);
  assert.equal(await o(d('slowfin'), 'up,ready'), 'false false');
  const st = fs.readFileSync(path.join(d('slowfin'), 'supervise', 'status'));
  assert.equal(st[34] & 2, 0, 'not finishing any more');

  // -T expiry: 99 with "timed out"
  r = await vigil(['svc', '-wU', '-T', '400', '-u', d('mute')]);
  assert.equal(r.code, 99);
  assert.equal(r.stderr, 'vigil svc: fatal: timed out\n');
  // the same through s6-svc
  await tool('s6-svc', ['-d', d('mute')]);
  await waitStatus(d('mute'), (s) => s.pid === 0, 5000, 'mute down');
  const s6 = await tool('s6-svc', ['-wU', '-T', '400', '-u', d('mute')]);
  assert.equal(s6.code, 99, s6.stderr);
  // -w with no letters only waits (s6-svwait's path): mute never gets ready
  r = await vigil(['svc', '-wU', '-T', '300', d('mute')]);
  assert.equal(r.code, 99);

  // -wU without notification-fd: s6's warning, then it is -wu
  await tool('s6-svc', ['-d', d('plain')]);
  await waitStatus(d('plain'), (s) => s.pid === 0, 5000, 'plain down');
  r = await vigil(['svc', '-wU', '-T', '5000', '-u', d('plain')]);
  assert.equal(r.code, 0);
  assert.equal(r.stderr, `vigil svc: warning: ${d('plain')}/notification-fd not present - ignoring request for readiness notification\n`);
  assert.equal(await o(d('plain'), 'up'), 'true');

  // permanent failure: finish exits 125 while we wait for up+ready → 1
  r = await vigil(['svc', '-wU', '-T', '8000', '-u', d('perm')]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr, `vigil svc: fatal: ${d('perm')} failed permanently or its supervisor died\n`);
  assert.equal(await o(d('perm'), 'wantedup'), 'false');
  const s6perm = await tool('s6-svc', ['-wU', '-T', '8000', '-u', d('perm')]);
  assert.equal(s6perm.code, 1, 's6-svc agrees');

  // nothing left behind in event/: every subscriber fifo is removed (s6-ftrigrd's too, a moment later)
  for (const s of ['plain', 'notify', 'mute', 'slowfin', 'perm']) {
    await waitFor(() => fs.readdirSync(path.join(d(s), 'event')).every((n) => !n.startsWith('ftrig1')), 3000, `no subscriber fifo left in ${s}/event`);
  }
});
