/**
 * Two rules vigil used to get wrong (issue 12), each proven side by side with Debian's real s6-supervise:
 * the same service directory, the same command, watched the same way.
 *
 * - `s6-svc -o` on a service whose run cannot be exec'd: s6 tries once (its 10 s retry finds the service
 *   no longer wanted up); vigil retried every 10 s forever.
 * - lock-fd's lock held by another process: s6 warns once and starts the child, which blocks on the lock
 *   and runs as soon as it is free; vigil polled every second with a warning each time.
 *
 * The first test needs a window longer than the 10 s retry, so it waits 11.5 s (both supervisors at once).
 */
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTree, removeTree } from '../helpers/scandir';
import { startBg, tool, VIGIL, Bg, descendants } from '../helpers/svscan';
import { sleep, statusOf, waitFor } from '../helpers/wait';
import { native } from '../../src/sys/native';

const cleanup: Array<() => void> = [];
after(() => {
  for (const f of cleanup.reverse()) f();
});

interface Side {
  name: 's6' | 'vigil';
  dir: string;
  bg: Bg;
}

/** the same service dir twice, one under s6-supervise, one under vigil supervise */
function both(tree: Record<string, string>, prepare?: (dir: string) => void): Side[] {
  const sd = makeTree(Object.fromEntries(Object.entries(tree).flatMap(([k, v]) => [[`s6/${k}`, v], [`vigil/${k}`, v]])));
  cleanup.push(() => removeTree(sd));
  const out: Side[] = [];
  for (const name of ['s6', 'vigil'] as const) {
    const dir = path.join(sd, name);
    if (prepare) prepare(dir);
    const bg = name === 's6' ? startBg('s6-supervise', [name], { cwd: sd }) : startBg(process.execPath, [VIGIL, 'supervise', name], { cwd: sd });
    cleanup.push(() => bg.kill());
    out.push({ name, dir, bg });
  }
  return out;
}

const count = (s: string, re: RegExp) => s.split('\n').filter((l) => re.test(l)).length;

async function listening(sides: Side[]): Promise<void> {
  for (const s of sides) {
    await waitFor(async () => (await tool('s6-svok', [s.dir])).code === 0, 5000, `${s.name} supervising ${s.dir}`);
  }
}

test('s6-svc -o on a run that cannot be exec\'d: one try under s6 and under vigil, no retry 10 s later', async () => {
  const sides = both({ 'run': '#!/bin/sh\nexec sleep 1000\n', down: '' });
  for (const s of sides) fs.chmodSync(path.join(s.dir, 'run'), 0o644);
  await listening(sides);
  for (const s of sides) assert.equal((await tool('s6-svc', ['-o', s.dir])).code, 0);
  const FAIL = /unable to spawn \.\/run - waiting 10 seconds/;
  for (const s of sides) await waitFor(() => count(s.bg.stderr(), FAIL) === 1, 5000, `${s.name}: the first exec failure`);
  // past the 10 s retry
  await sleep(11500);
  const counts = Object.fromEntries(sides.map((s) => [s.name, count(s.bg.stderr(), FAIL)]));
  assert.deepEqual(counts, { s6: 1, vigil: 1 }, `stderr:\n${sides.map((s) => `${s.name}: ${s.bg.stderr()}`).join('\n')}`);
  for (const s of sides) {
    const st = statusOf(s.dir)!;
    assert.equal(st.pid, 0, `${s.name} down`);
    assert.equal(st.wantUp, false, `${s.name} not wanted up`);
  }
});

test('lock-fd held by another process: s6 and vigil warn once, the child blocks on the lock and runs once it is free', async () => {
  const held: number[] = [];
  const sides = both(
    { 'run!': '#!/bin/sh\necho started > started\nexec sleep 1000000\n', 'lock-fd': '3\n' },
    (dir) => {
      // s6 2.11 opens supervise/service-lock without O_CREAT: make it, and hold its lock (an OFD write lock,
      // which conflicts with s6's fcntl lock and vigil's OFD lock alike)
      fs.mkdirSync(path.join(dir, 'supervise'), { mode: 0o700 });
      const fd = fs.openSync(path.join(dir, 'supervise', 'service-lock'), fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
      assert.equal(native().lock(fd, true, true), true);
      held.push(fd);
    },
  );
  cleanup.push(() => {
    for (const s of sides) for (const p of descendants(s.bg.pid)) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
  const WARN = /another instance of the service is already running, child will block/;
  for (const s of sides) await waitFor(() => count(s.bg.stderr(), WARN) === 1, 5000, `${s.name}: the lock warning`);
  // a window of 2.5 s: a 1 s poll would warn twice more
  await sleep(2500);
  for (const s of sides) {
    assert.equal(count(s.bg.stderr(), WARN), 1, `${s.name} warned once: ${s.bg.stderr()}`);
    assert.equal(fs.existsSync(path.join(s.dir, 'started')), false, `${s.name}: run has not run while the lock is held`);
  }
  const t0 = Date.now();
  for (const fd of held) fs.closeSync(fd);
  for (const s of sides) {
    await waitFor(() => fs.existsSync(path.join(s.dir, 'started')), 5000, `${s.name}: run started once the lock was free`).catch((e) => {
      throw new Error(`${e.message}; locks: ${fs.readFileSync('/proc/locks', 'utf8')}; procs: ${descendants(s.bg.pid).map((p) => fs.readFileSync(`/proc/${p}/cmdline`, 'utf8')).join(' | ')}; stderr ${s.bg.stderr()}`);
    });
  }
  const latency = Date.now() - t0;
  assert.ok(latency < 2000, `started ${latency} ms after the lock was freed`);
  for (const s of sides) {
    await waitFor(() => (statusOf(s.dir)?.pid ?? 0) > 0, 5000, `${s.name} up`);
    // the service now holds the lock itself
    const fd = fs.openSync(path.join(s.dir, 'supervise', 'service-lock'), fs.constants.O_RDWR);
    try {
      assert.equal(native().lock(fd, true, true), false, `${s.name}: run holds the lock`);
    } finally {
      fs.closeSync(fd);
    }
    assert.equal(count(s.bg.stderr(), WARN), 1);
  }
});
