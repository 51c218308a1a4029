// The in-process engine: one Supervisor, many Services. Error boundary (a fault in one service's handling
// is one warning line and touches no other service), queue then drain (step never re-entered), the shared
// timer queue (no timer at all when nothing is pending: an idle tree makes no wake-ups).
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { makeTree, removeTree, SLEEP_RUN } from '../helpers/scandir';
import { waitUp, waitDown, statusOf, waitFor } from '../helpers/wait';
import { tool } from '../helpers/svscan';
import { Supervisor } from '../../src/supervisor/supervisor';
import { Service, SetupError } from '../../src/supervisor/service';
import { TimerQueue } from '../../src/supervisor/timers';

const cleanup: Array<() => void> = [];
after(() => {
  for (const f of cleanup.reverse()) f();
});

function activeTimeouts(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

test('timer queue: one setTimeout for the earliest deadline, none once everything fired or was cancelled', async () => {
  const base = activeTimeouts();
  const q = new TimerQueue();
  const fired: string[] = [];
  const a = q.after(200, () => fired.push('a'));
  q.after(30, () => fired.push('b'));
  q.after(60, () => fired.push('c'));
  assert.equal(activeTimeouts(), base + 1, 'one timer for three deadlines');
  q.cancel(a);
  await waitFor(() => fired.length === 2, 2000, 'b and c');
  assert.deepEqual(fired, ['b', 'c']);
  await waitFor(() => activeTimeouts() === base, 1000, 'no timer left (a was cancelled)');
  assert.equal(q.pending, 0);
});

test('error boundary: an exception in one service is one warning line; the other service is untouched', async () => {
  const sd = makeTree({ 'good/run!': SLEEP_RUN, 'bad/run!': SLEEP_RUN });
  cleanup.push(() => removeTree(sd));
  const lines: string[] = [];
  const sup = new Supervisor({ log: (l) => lines.push(l) });
  const good = sup.add({ dir: path.join(sd, 'good'), name: 'good' });
  const bad = sup.add({ dir: path.join(sd, 'bad'), name: 'bad' });
  cleanup.push(() => {
    for (const s of [good, bad]) {
      try {
        if (s.runPid) process.kill(s.runPid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
  await waitUp(path.join(sd, 'good'));
  await waitUp(path.join(sd, 'bad'));
  // a fault inside bad's transition function, on every control byte
  const orig = bad.step.bind(bad);
  bad.step = (ev) => {
    if (ev.t === 'ctl') throw new Error('injected fault');
    orig(ev);
  };
  // reentrancy check on good: step must never be called from inside step
  let depth = 0;
  let maxDepth = 0;
  const gorig = good.step.bind(good);
  good.step = (ev) => {
    depth++;
    maxDepth = Math.max(maxDepth, depth);
    try {
      gorig(ev);
    } finally {
      depth--;
    }
  };
  assert.equal((await tool('s6-svc', ['-k', path.join(sd, 'bad')])).code, 0);
  assert.equal((await tool('s6-svc', ['-dudud', path.join(sd, 'good')])).code, 0);
  await waitFor(() => lines.some((l) => l.startsWith('vigil: warning: bad: internal error handling ctl')), 3000, 'fault reported');
  assert.equal(lines.filter((l) => /injected fault/.test(l)).length, 1);
  assert.ok(lines.every((l) => !l.includes('\n')), 'one line each');
  // good obeyed its five letters (ends down), bad's service never got its SIGKILL
  await waitDown(path.join(sd, 'good'));
  assert.equal(statusOf(path.join(sd, 'good'))!.wantUp, false);
  assert.notEqual(statusOf(path.join(sd, 'bad'))!.pid, 0);
  assert.equal(maxDepth, 1, 'queue then drain: no nested step');
  // bad still ends cleanly through the supervisor-signal path
  sup.signal(bad, 'quit');
  sup.signal(good, 'term');
  await waitFor(() => bad.done && good.done, 3000, 'both supervisions ended');
  assert.equal((await tool('s6-svok', [path.join(sd, 'bad')])).code, 1);
  process.kill(bad.runPid || statusOf(path.join(sd, 'bad'))!.pid, 'SIGKILL');
});

test('set-up refusals: a second Supervisor on the same dir gets SetupError 100 naming the service', async () => {
  const sd = makeTree({ 'a/run!': SLEEP_RUN, 'a/down': '' });
  cleanup.push(() => removeTree(sd));
  const sup = new Supervisor({ log: () => {} });
  const a: Service = sup.add({ dir: path.join(sd, 'a'), name: 'a' });
  const other = new Supervisor({ log: () => {} });
  assert.throws(() => other.add({ dir: path.join(sd, 'a'), name: 'a' }), (e: unknown) => {
    assert.ok(e instanceof SetupError);
    assert.equal(e.exitCode, 100);
    assert.match(e.message, /^a: another supervisor/);
    return true;
  });
  sup.control(a, 'x');
  await waitFor(() => a.done, 2000, 'a ended');
});

test('in-process Scanner API: stdoutFor hook feeds a service\'s output to this process; command t stops', async () => {
  const { Scanner } = await import('../../src/scanner/scanner');
  const { native } = await import('../../src/sys/native');
  const { watchReadable, readAvailable } = await import('../../src/sys/fdwatch');
  const sd = makeTree({ 'talker/run!': '#!/bin/sh\necho "hello from $1"\nexec sleep 1000000\n', 'quiet/run!': SLEEP_RUN });
  cleanup.push(() => removeTree(sd));
  const [r, w] = native().pipe(false);
  native().setNonblock(r, true);
  let got = '';
  const buf = Buffer.alloc(4096);
  const watch = watchReadable(r, () => {
    got += readAvailable(r, buf).bytes.toString();
  });
  let stopped = '';
  const sc = new Scanner({
    scandir: sd,
    handleSignals: false,
    log: () => {},
    stdoutFor: (name) => (name === 'talker' ? w : undefined),
    onStopped: (how) => (stopped = how),
  });
  sc.start();
  await waitFor(() => got.includes('hello from talker\n'), 5000, 'output through the hook');
  const rows = sc.services().map((x) => [x.name, x.main?.state]).sort();
  assert.deepEqual(rows, [['quiet', 'UP'], ['talker', 'UP']]);
  sc.command('t');
  await waitFor(() => stopped === 'finish', 5000, 'onStopped');
  watch.stop();
  for (const fd of [r, w]) native().close(fd);
  assert.equal(statusOf(path.join(sd, 'talker'))!.pid, 0);
});

test('event listeners: every service event byte in order, status already written; a throwing listener is one warning', async () => {
  const sd = makeTree({
    'ready/run!': '#!/bin/sh\necho >&3\nexec sleep 1000000\n',
    'ready/notification-fd': '3\n',
    'once/run!': '#!/bin/sh\nexit 3\n',
    'once/finish!': '#!/bin/sh\nexit 125\n',
  });
  cleanup.push(() => removeTree(sd));
  const lines: string[] = [];
  const sup = new Supervisor({ log: (l) => lines.push(l) });
  const seen: string[] = [];
  let statusAtU: boolean | null = null;
  const off = sup.addEventListener((svc, events) => {
    seen.push(`${svc.name}:${events}`);
    if (svc.name === 'ready' && events === 'U') statusAtU = statusOf(path.join(sd, 'ready'))!.ready;
  });
  sup.addEventListener(() => {
    throw new Error('listener fault');
  });
  const ready = sup.add({ dir: path.join(sd, 'ready'), name: 'ready' });
  const once = sup.add({ dir: path.join(sd, 'once'), name: 'once' });
  await waitFor(() => seen.includes('ready:U') && seen.includes('once:OD'), 5000, 'U and OD');
  assert.deepEqual(seen.filter((s) => s.startsWith('ready:')), ['ready:s', 'ready:u', 'ready:U']);
  assert.deepEqual(seen.filter((s) => s.startsWith('once:')), ['once:s', 'once:u', 'once:d', 'once:OD']);
  assert.equal(statusAtU, true, 'the status file says ready when U is announced');
  assert.ok(lines.length >= 1 && lines.every((l) => /^vigil: warning: (ready|once): internal error in an event listener: listener fault$/.test(l)), lines.join('\n'));
  off();
  sup.control(once, 'x');
  sup.control(ready, 'dx');
  await waitFor(() => once.done && ready.done, 5000, 'both ended');
  assert.ok(!seen.some((s) => s.endsWith(':x')), 'no event after the listener was removed');
});
