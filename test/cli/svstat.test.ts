/**
 * vigil svstat against Debian's s6-svstat on a tree run by the real s6-svscan: the human line (-n too) and
 * every -o field and short option, byte for byte (the seconds counts masked), in every state a service can
 * be in: up, ready, up but not ready, normally down, paused, want down, finishing, down by signal, down
 * with exit 3, crash-looping, logger. Plus s6-svstat's error paths.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { startS6Tree, compareBoth, maskSeconds, both, asS6, pool } from '../helpers/cli-tree';
import { SLEEP_RUN, tmpdir } from '../helpers/scandir';
import { tool, vigil } from '../helpers/svscan';
import { waitStatus } from '../helpers/wait';

const ALL = 'up,wantedup,normallyup,ready,paused,pid,exitcode,signal,signum,updownsince,readysince';
const FOR = 'updownfor,readyfor';

test('svstat matches s6-svstat byte for byte in every state', async (t) => {
  const tree = await startS6Tree({
    'up/run!': SLEEP_RUN,
    'ready/run!': '#!/bin/sh\necho >&3\nexec sleep 1000000\n',
    'ready/notification-fd': '3\n',
    'notready/run!': SLEEP_RUN,
    'notready/notification-fd': '3\n',
    'ndown/run!': SLEEP_RUN,
    'ndown/down': '',
    'paused/run!': SLEEP_RUN,
    'wantdown/run!': SLEEP_RUN,
    'killed/run!': SLEEP_RUN,
    'fin/run!': SLEEP_RUN,
    'fin/finish!': '#!/bin/sh\nexec sleep 30\n',
    'fin/timeout-finish': '60000\n',
    'once/run!': '#!/bin/sh\nexit 3\n',
    'once/down': '',
    'crash/run!': '#!/bin/sh\nsleep 0.3\nexit 3\n',
    'logged/run!': '#!/bin/sh\necho hello\nexec sleep 1000000\n',
    'logged/log/run!': '#!/bin/sh\nexec cat >/dev/null\n',
  });
  t.after(() => tree.stop());
  const d = tree.dir;

  // drive each service into its state with s6's own tool
  for (const [svc, letters] of [['paused', '-p'], ['wantdown', '-O'], ['killed', '-d'], ['fin', '-d'], ['once', '-o']] as const) {
    const r = await tool('s6-svc', [letters, d(svc)]);
    assert.equal(r.code, 0, `s6-svc ${letters} ${svc}: ${r.stderr}`);
  }
  await waitStatus(d('ready'), (s) => s.ready && s.pid !== 0, 5000, 'ready');
  await waitStatus(d('paused'), (s) => s.paused, 5000, 'paused');
  await waitStatus(d('killed'), (s) => s.pid === 0, 5000, 'killed down');
  await waitStatus(d('fin'), (s) => s.finishing, 5000, 'fin finishing');
  await waitStatus(d('once'), (s) => s.pid === 0 && s.wstat === 3 << 8, 5000, 'once exited 3');

  const services = ['up', 'ready', 'notready', 'ndown', 'paused', 'wantdown', 'killed', 'fin', 'once', 'crash', 'logged', 'logged/log'];
  const failures: string[] = [];
  const check = async (args: string[], mask?: (s: string) => string): Promise<void> => {
    const r = await compareBoth('svstat', args, mask);
    if (!r.ok) failures.push(r.detail);
  };
  const forService = (s: string): Array<() => Promise<void>> => [
    () => check([d(s)], maskSeconds),
    () => check(['-n', d(s)], maskSeconds),
    () => check(['-o', ALL, d(s)]),
    () => check(['-o', FOR, d(s)], (x) => x.replace(/[0-9]+/g, 'N')),
  ];
  // the finishing state lasts while finish sleeps: check it first
  await pool(forService('fin'), 4);
  await waitStatus(d('fin'), (s) => s.finishing, 100, 'fin still finishing after its checks');
  await pool(services.filter((s) => s !== 'fin').flatMap(forService), 6);
  // short options and prefixes, on a few states
  await pool(
    ['up', 'killed', 'once', 'ready'].flatMap((s) => [
      () => check(['-uwNrpes', d(s)]),
      () => check(['-t', d(s)], (x) => x.replace(/[0-9]+/g, 'N')),
      () => check(['-o', 'p,e,s,sig,u,r,w,n,updowns,readys', d(s)]),
      () => check(['-u', '-o', 'pid', '-n', d(s)]),
    ]),
    6,
  );
  assert.deepEqual(failures, [], failures.join('\n'));

  // sanity: what the states are (so the comparison above is not vacuous)
  const human = async (s: string) => maskSeconds((await vigil(['svstat', d(s)])).stdout);
  assert.match(await human('up'), /^up \(pid [0-9]+\) N seconds\n$/);
  assert.equal(await human('ready'), 'up (pid ' + (await vigil(['svstat', '-p', d('ready')])).stdout.trim() + ') N seconds, ready N seconds\n');
  assert.equal(await human('killed'), 'down (signal SIGTERM) N seconds, normally up, ready N seconds\n');
  assert.equal(maskSeconds((await vigil(['svstat', '-n', d('killed')])).stdout), 'down (signal 15) N seconds, normally up, ready N seconds\n');
  assert.equal(await human('once'), 'down (exitcode 3) N seconds, ready N seconds\n');
  assert.match(await human('paused'), /, paused\n$/);
  assert.match(await human('wantdown'), /, want down\n$/);
  assert.match(await human('ndown'), /^down \(exitcode 0\) N seconds, ready N seconds\n$/);
  assert.equal((await vigil(['svstat', '-o', 'up,ready', d('notready')])).stdout, 'true false\n');
  assert.equal((await vigil(['svstat', '-o', 'ready', d('killed')])).stdout, 'false\n', 'the ready quirk: down prints false');
});

test('svstat error paths and usage match s6-svstat', async (t) => {
  const root = tmpdir('vigil-cli-svstat-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  fs.mkdirSync(`${root}/nosup`);
  fs.mkdirSync(`${root}/unlocked/supervise`, { recursive: true });
  fs.writeFileSync(`${root}/unlocked/supervise/lock`, '');
  fs.writeFileSync(`${root}/file`, '');
  const cases: string[][] = [
    [],
    ['-x', `${root}/nosup`],
    ['-o'],
    [`${root}/nosup`],
    [`${root}/missing`],
    [`${root}/unlocked`],
    [`${root}/file`],
    ['-o', 'up,,pid', `${root}/nosup`],
    ['-o', ',up', `${root}/nosup`],
    ['-o', 'xyz', `${root}/nosup`],
    ['-o', 'up,upx', `${root}/nosup`],
    ['-o', 'UP', `${root}/nosup`],
    ['-o', Array(17).fill('up').join(','), `${root}/nosup`],
    ['-uuuuuuuuuuuuuuuuu', `${root}/nosup`],
    ['-o', Array(16).fill('u').join(','), '-u', `${root}/nosup`],
    ['--', `${root}/nosup`],
  ];
  const results: Array<Awaited<ReturnType<typeof both>>> = [];
  await pool(cases.map((args, i) => async () => {
    results[i] = await both('svstat', args);
  }), 6);
  results.forEach(([s6, vg], i) => {
    const what = `svstat ${cases[i].join(' ')}`;
    assert.equal(vg.code, s6.code, `${what}: exit code`);
    assert.equal(vg.stdout, s6.stdout, `${what}: stdout`);
    assert.equal(asS6(vg.stderr), s6.stderr, `${what}: stderr`);
  });
  // the documented exit codes, explicitly
  assert.equal(results[0][1].code, 100);
  assert.equal(results[3][1].code, 1);
  assert.equal(results[3][1].stderr, `vigil svstat: fatal: : unable to read status for ${root}/nosup: s6-supervise not running\n`);
  assert.equal(results[6][1].code, 111);

  const help = await vigil(['svstat', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: vigil svstat /);
});
