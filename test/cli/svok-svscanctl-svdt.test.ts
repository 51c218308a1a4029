/**
 * vigil svok, svscanctl and svdt next to s6-svok, s6-svscanctl and s6-svdt, against a real s6-svscan:
 * svok 0/1/111/100; svdt's lines identical (-s, -S, -n) on a real death tally, and the same repair of a
 * malformed tally; svscanctl -h reaps a removed service's supervisor, -t stops s6-svscan, error paths match.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startS6Tree, both, asS6, pool } from '../helpers/cli-tree';
import { SLEEP_RUN, tmpdir } from '../helpers/scandir';
import { tool, vigil, sleep } from '../helpers/svscan';
import { waitFor, waitStatus } from '../helpers/wait';
import { native } from '../../src/sys/native';

test('svok: 0 supervised, 1 not, 111 error, 100 usage (as s6-svok)', async (t) => {
  const tree = await startS6Tree({ 'a/run!': SLEEP_RUN });
  t.after(() => tree.stop());
  const root = tmpdir('vigil-cli-svok-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  fs.mkdirSync(path.join(root, 'unlocked', 'supervise'), { recursive: true });
  fs.writeFileSync(path.join(root, 'unlocked', 'supervise', 'lock'), '');
  fs.writeFileSync(path.join(root, 'file'), '');
  fs.mkdirSync(path.join(root, 'ofd', 'supervise'), { recursive: true });
  const fd = fs.openSync(path.join(root, 'ofd', 'supervise', 'lock'), fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
  t.after(() => fs.closeSync(fd));
  assert.ok(native().lock(fd, true, true));
  const cases: Array<[string[], number]> = [
    [[tree.dir('a')], 0],
    [[path.join(root, 'ofd')], 0],
    [[path.join(root, 'unlocked')], 1],
    [[path.join(root, 'missing')], 1],
    [[root], 1],
    [[path.join(root, 'file')], 111],
    [[], 100],
    [[tree.dir('a'), 'extra'], 0],
  ];
  await pool(cases.map(([args, want]) => async () => {
    const [s6, vg] = await both('svok', args);
    assert.equal(s6.code, want, `s6-svok ${args.join(' ')}`);
    assert.equal(vg.code, want, `vigil svok ${args.join(' ')}: ${vg.stderr}`);
    assert.equal(asS6(vg.stderr), s6.stderr);
  }), 4);
  const help = await vigil(['svok', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: vigil svok /);
});

test('svdt prints what s6-svdt prints, and repairs the tally the same way', async (t) => {
  const tree = await startS6Tree({
    'crash/run!': '#!/bin/sh\nexit 3\n',
    'killed/run!': SLEEP_RUN,
  });
  t.after(() => tree.stop());
  const crash = tree.dir('crash');
  const killed = tree.dir('killed');
  // three deaths by exit 3 (the 1 s throttle spaces them), then stop it so the tally is stable
  await waitFor(() => fs.statSync(path.join(crash, 'supervise', 'death_tally')).size >= 3 * 14, 10000, 'three deaths of crash');
  assert.equal((await tool('s6-svc', ['-d', crash])).code, 0);
  await waitStatus(crash, (s) => !s.wantUp, 5000, 'crash wanted down');
  // deaths by SIGKILL, SIGUSR1 (not trapped: kills), SIGTERM
  for (const l of ['-k', '-1', '-d']) {
    const before = fs.statSync(path.join(killed, 'supervise', 'death_tally')).size;
    const old = (await waitStatus(killed, (s) => s.pid !== 0 && !s.finishing, 5000, 'killed up')).pid;
    assert.equal((await tool('s6-svc', [l, killed])).code, 0);
    await waitFor(() => fs.statSync(path.join(killed, 'supervise', 'death_tally')).size > before, 5000, `a death after ${l}`);
    if (l !== '-d') await waitStatus(killed, (s) => s.pid !== 0 && s.pid !== old, 5000, 'killed back up');
  }
  const cases: string[][] = [];
  for (const dir of [crash, killed]) {
    for (const o of [[], ['-s'], ['-S'], ['-n', '1'], ['-n', '0'], ['-sn2'], ['-s', '-S'], ['-n', '99999']]) cases.push([...o, dir]);
  }
  await pool(cases.map((args) => async () => {
    const [s6, vg] = await both('svdt', args);
    assert.equal(vg.code, s6.code, `svdt ${args.join(' ')}`);
    assert.equal(vg.stdout, s6.stdout, `svdt ${args.join(' ')}`);
    assert.equal(asS6(vg.stderr), s6.stderr);
  }), 4);
  const lines = (await vigil(['svdt', killed])).stdout.trim().split('\n');
  assert.deepEqual(lines.map((l) => l.replace(/^@[0-9a-f]{24} /, '')), ['signal SIGKILL', 'signal SIGUSR1', 'signal SIGTERM']);
  assert.deepEqual((await vigil(['svdt', '-s', killed])).stdout.trim().split('\n').map((l) => l.slice(26)), ['signal 9', 'signal 10', 'signal 15']);
  assert.match((await vigil(['svdt', crash])).stdout, /^(@[0-9a-f]{24} exitcode 3\n){3,}$/);

  // a tally of the wrong size is truncated by both; a missing one is created empty by both
  const root = tmpdir('vigil-cli-svdt-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  for (const who of ['s6', 'vigil']) {
    const dir = path.join(root, who);
    fs.mkdirSync(path.join(dir, 'supervise'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'supervise', 'death_tally'), Buffer.alloc(17, 1));
    const r = who === 's6' ? await tool('s6-svdt', [dir]) : await vigil(['svdt', dir]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, '');
    assert.equal(fs.statSync(path.join(dir, 'supervise', 'death_tally')).size, 0, `${who} truncated it`);
    fs.unlinkSync(path.join(dir, 'supervise', 'death_tally'));
    const r2 = who === 's6' ? await tool('s6-svdt', [dir]) : await vigil(['svdt', dir]);
    assert.equal(r2.code, 0);
    assert.equal(fs.existsSync(path.join(dir, 'supervise', 'death_tally')), true, `${who} created it`);
  }
  for (const args of [[], ['-n', 'x', crash], ['-n', '-1', crash], ['-Z', crash], [path.join(root, 'missing')]]) {
    const [s6, vg] = await both('svdt', args);
    assert.equal(vg.code, s6.code, `svdt ${args.join(' ')}`);
    assert.equal(asS6(vg.stderr), s6.stderr);
  }
  const help = await vigil(['svdt', '--help']);
  assert.equal(help.code, 0);
});

test('svscanctl drives a real s6-svscan: -h drops a removed service, -t stops it; errors as s6-svscanctl', async (t) => {
  const tree = await startS6Tree({ 'keep/run!': SLEEP_RUN, 'gone/run!': SLEEP_RUN });
  t.after(() => tree.stop());
  const keep = tree.dir('keep');
  const gone = tree.dir('gone');
  // -a -z: accepted, nothing changes
  let r = await vigil(['svscanctl', '-az', tree.root]);
  assert.equal(r.code, 0, r.stderr);
  // remove a service, -h: its supervisor is told to stop (s6-svok 1), the other one stays
  const moved = path.join(tree.root, '.removed-gone');
  fs.renameSync(gone, moved);
  r = await vigil(['svscanctl', '-h', tree.root]);
  assert.equal(r.code, 0, r.stderr);
  await waitFor(async () => (await tool('s6-svok', [moved])).code === 1, 5000, 'the removed service unsupervised');
  assert.equal((await tool('s6-svok', [keep])).code, 0, 'the other service still supervised');
  // -t: s6-svscan stops everything and exits
  r = await vigil(['svscanctl', '-t', tree.root]);
  assert.equal(r.code, 0, r.stderr);
  const deadline = Date.now() + 10000;
  while (!tree.scanner.hasExited() && Date.now() < deadline) await sleep(50);
  assert.ok(tree.scanner.hasExited(), 's6-svscan exited after -t');
  assert.equal((await tool('s6-svok', [keep])).code, 1);
  // now nobody listens: both tools say so with 100
  const root = tmpdir('vigil-cli-svscanctl-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  fs.mkdirSync(path.join(root, 'noctl', '.s6-svscan'), { recursive: true });
  fs.writeFileSync(path.join(root, 'file'), '');
  const cases: string[][] = [
    ['-a', tree.root], ['-a', path.join(root, 'missing')], ['-a', path.join(root, 'file')], ['-a', root],
    ['-a', path.join(root, 'noctl')], [], ['-x', root], ['-p', root], ['-u', root], ['-a'], [`-${'z'.repeat(65)}`, root],
  ];
  await pool(cases.map((args) => async () => {
    const [s6, vg] = await both('svscanctl', args);
    assert.equal(vg.code, s6.code, `svscanctl ${args.join(' ')}: ${s6.stderr}`);
    assert.equal(asS6(vg.stderr), s6.stderr, `svscanctl ${args.join(' ')}`);
  }), 4);
  const help = await vigil(['svscanctl', '--help']);
  assert.equal(help.code, 0);
});
