/**
 * vigil svwait next to s6-svwait, both started on the same services at the same time, under a real
 * s6-svscan: same exit code in every case (0, 99 timeout, N permanent failures, supervisor exit counted as a
 * failure, -o / -a, -r), and the same usage errors.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { startS6Tree, both, asS6, pool } from '../helpers/cli-tree';
import { SLEEP_RUN, tmpdir } from '../helpers/scandir';
import { startBg, tool, vigil, VIGIL, Bg } from '../helpers/svscan';
import { waitFor, waitStatus } from '../helpers/wait';

/** start s6-svwait and vigil svwait with `args`, wait until both have subscribed, then run `then` */
async function race(args: string[], dirs: string[], then: () => Promise<void>): Promise<[Bg, Bg]> {
  const before = new Set(dirs.flatMap((d) => fs.readdirSync(`${d}/event`)));
  const s6 = startBg('s6-svwait', args);
  const vg = startBg(process.execPath, [VIGIL, 'svwait', ...args]);
  // each waiter subscribes one fifo per directory argument
  await waitFor(() => {
    const now = dirs.flatMap((d) => fs.readdirSync(`${d}/event`)).filter((n) => n.startsWith('ftrig1') && !before.has(n));
    return now.length >= 2 * args.filter((a) => dirs.includes(a)).length;
  }, 8000, `both waiters subscribed (${args.join(' ')})`);
  await then();
  return [s6, vg];
}

async function codes(p: [Bg, Bg], ms = 10000): Promise<[number | null, number | null]> {
  const to = new Promise<never>((_r, rej) => setTimeout(() => rej(new Error('waiter did not exit in time')), ms).unref());
  const [a, b] = await Promise.race([Promise.all(p.map((x) => x.exited)), to]);
  return [a[0], b[0]];
}

test('svwait exits like s6-svwait: reached, timeout, failures, -o/-a, -r', async (t) => {
  const tree = await startS6Tree({
    'a/run!': SLEEP_RUN,
    'b/run!': SLEEP_RUN,
    'b/down': '',
    'perm/run!': '#!/bin/sh\nsleep 0.3\nexit 1\n',
    'perm/finish!': '#!/bin/sh\nexit 125\n',
    'perm/notification-fd': '3\n',
    'perm/down': '',
    'c/run!': SLEEP_RUN,
    'c/down': '',
  });
  t.after(() => tree.stop());
  const d = tree.dir;
  await waitStatus(d('a'), (s) => s.pid !== 0, 5000, 'a up');

  // already in the state: 0 at once; not in it: 99 after -t
  const cases: Array<[string[], number]> = [
    [['-t', '300', '-u', d('a')], 0],
    [['-t', '300', '-d', d('b')], 0],
    [['-t', '300', '-D', d('b')], 0],
    [['-t', '300', '-u', d('b')], 99],
    [['-t', '300', '-U', d('a')], 99],
    [['-t', '300', '-a', '-u', d('a'), d('b')], 99],
    [['-t', '300', '-o', '-u', d('a'), d('b')], 0],
    [['-t', '300', '-o', '-d', d('a'), d('b')], 0],
    [['-t', '300', '-r', d('a')], 99],
  ];
  await pool(cases.map(([args, want]) => async () => {
    const [s6, vg] = await both('svwait', args);
    assert.equal(s6.code, want, `s6-svwait ${args.join(' ')}: ${s6.stderr}`);
    assert.equal(vg.code, s6.code, `vigil svwait ${args.join(' ')}: ${vg.stderr}`);
    assert.equal(asS6(vg.stderr), s6.stderr);
  }), 4);

  // waiting for up while the service is started: both 0
  let p = await race(['-t', '8000', '-u', d('b')], [d('b')], async () => {
    assert.equal((await tool('s6-svc', ['-u', d('b')])).code, 0);
  });
  assert.deepEqual(await codes(p), [0, 0]);

  // -r: down then up again
  p = await race(['-t', '8000', '-r', d('a')], [d('a')], async () => {
    assert.equal((await tool('s6-svc', ['-r', d('a')])).code, 0);
  });
  assert.deepEqual(await codes(p), [0, 0]);

  // permanent failure (finish exit 125) while waiting for up+ready: 1 failure
  p = await race(['-t', '8000', '-U', d('perm')], [d('perm')], async () => {
    assert.equal((await tool('s6-svc', ['-u', d('perm')])).code, 0);
  });
  assert.deepEqual(await codes(p), [1, 1]);
  assert.equal(p[1].stderr(), 'vigil svwait: fatal: some services reported permanent failure or their supervisor died\n');

  // the supervisor exits (x) while we wait for up: a failure per directory argument (here the same one twice)
  await waitStatus(d('c'), (s) => s.pid === 0, 5000, 'c down');
  p = await race(['-t', '8000', '-u', d('c'), d('c')], [d('c')], async () => {
    assert.equal((await tool('s6-svc', ['-x', d('c')])).code, 0);
  });
  assert.deepEqual(await codes(p), [2, 2]);

  // usage errors and a missing directory
  const root = tmpdir('vigil-cli-svwait-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  for (const args of [[], ['-x', d('a')], ['-t', 'x', d('a')], ['-t', '100', `${root}/missing`]]) {
    const [s6, vg] = await both('svwait', args);
    assert.equal(vg.code, s6.code, `svwait ${args.join(' ')}`);
    assert.equal(asS6(vg.stderr), s6.stderr);
  }
  const help = await vigil(['svwait', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: vigil svwait /);
});
