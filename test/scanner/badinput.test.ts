// Bad input never takes the tree down: every malformed config file, garbage on both control fifos, run
// missing or not executable, an unreadable service dir, a service removed while running, a symlink loop,
// a non-fifo supervise/control. Each gives a clear one-line message on stderr naming the service and the
// problem, and every other service stays undisturbed.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTree, removeTree, SLEEP_RUN, tmpdir } from '../helpers/scandir';
import { startVigilSvscan, startBg, tool, Bg, VIGIL, waitListening } from '../helpers/svscan';
import { waitFor, waitUp, waitDown, statusOf, sleep } from '../helpers/wait';

const cleanup: Array<() => void> = [];
after(() => {
  for (const f of cleanup.reverse()) f();
});
async function scanner(sd: string): Promise<Bg> {
  const sv = await startVigilSvscan(sd);
  cleanup.push(() => sv.kill());
  return sv;
}
function tree(t: Record<string, string>): string {
  const d = makeTree(t);
  cleanup.push(() => removeTree(d));
  return d;
}
const lines = (sv: Bg) => sv.stderr().split('\n').filter(Boolean);
async function waitLine(sv: Bg, re: RegExp, ms = 5000): Promise<string> {
  return waitFor(() => lines(sv).find((l) => re.test(l)), ms, `stderr line ${re} (stderr: ${JSON.stringify(sv.stderr())})`);
}
/** the "everything else keeps running" check: the witness is up, with the same pid, and controllable */
async function witnessFine(sd: string, pid: number): Promise<void> {
  const w = path.join(sd, 'witness');
  assert.equal(statusOf(w)!.pid, pid, 'witness undisturbed');
  assert.equal((await tool('s6-svc', ['-r', w])).code, 0);
  await waitUp(w, 4000, pid);
}

test('every malformed config file: one warning naming service and file, treated as absent', async () => {
  const sd = tree({
    'witness/run!': SLEEP_RUN,
    'bad/run!': SLEEP_RUN,
    'bad/notification-fd': ' 3',
    'bad/lock-fd': '3 \n',
    'bad/timeout-kill': 'soon\n',
    'bad/timeout-finish': '-5\n',
    'bad/max-death-tally': 'lots\n',
    'bad/finish!': '#!/bin/sh\nexit 0\n',
    'bad/down-signal': 'SIGNOPE\n',
    'bad2/run!': SLEEP_RUN,
    'bad2/notification-fd': '',
    'bad2/timeout-kill': '\n',
    'bad2/down-signal': '',
  });
  const sv = await scanner(sd);
  const w = await waitUp(path.join(sd, 'witness'));
  const bad = path.join(sd, 'bad');
  await waitUp(bad);
  await waitUp(path.join(sd, 'bad2'));
  // config files are read when used: spawn (notification-fd, lock-fd), death (max-death-tally,
  // timeout-finish), d (down-signal, timeout-kill)
  await tool('s6-svc', ['-k', bad]);
  await waitUp(bad, 4000, statusOf(bad)!.pid);
  assert.equal((await tool('s6-svc', ['-wD', '-T', '4000', '-d', bad], 6000)).code, 0);
  await tool('s6-svc', ['-d', path.join(sd, 'bad2')]);
  await waitDown(path.join(sd, 'bad2'));
  for (const [file, re] of [
    ['notification-fd', /^vigil: warning: bad: invalid notification-fd: " 3" is not a decimal unsigned integer - ignoring it$/],
    ['lock-fd', /^vigil: warning: bad: invalid lock-fd: .* - ignoring it$/],
    ['timeout-kill', /^vigil: warning: bad: invalid timeout-kill: .* - ignoring it$/],
    ['timeout-finish', /^vigil: warning: bad: invalid timeout-finish: .* - ignoring it$/],
    ['max-death-tally', /^vigil: warning: bad: invalid max-death-tally: .* - ignoring it$/],
    ['down-signal', /^vigil: warning: bad: invalid down-signal: "SIGNOPE" is not a signal - using SIGTERM$/],
  ] as Array<[string, RegExp]>) {
    assert.ok(lines(sv).some((l) => re.test(l)), `${file}: no line matching ${re} in ${sv.stderr()}`);
  }
  await waitLine(sv, /^vigil: warning: bad2: invalid notification-fd: "" /);
  await waitLine(sv, /^vigil: warning: bad2: invalid down-signal: "" is not a signal/);
  // bad down-signal = SIGTERM, the service went down with it
  assert.equal(statusOf(bad)!.wstat, 15);
  for (const l of lines(sv)) assert.match(l, /^vigil: warning: bad2?: /, 'every line names its service');
  await witnessFine(sd, w.pid);
});

test('garbage on supervise/control and .s6-svscan/control: ignored / one warning per unknown byte', async () => {
  const sd = tree({ 'witness/run!': SLEEP_RUN, 'a/run!': SLEEP_RUN });
  const sv = await scanner(sd);
  const w = await waitUp(path.join(sd, 'witness'));
  const a = await waitUp(path.join(sd, 'a'));
  // 64 KiB of bytes that are no command letter, straight into the fifo
  const letters = new Set(Buffer.from('abqhkti12pcyroduDUxOQ'));
  const junk = Buffer.alloc(65536);
  for (let i = 0; i < junk.length; i++) {
    let b = (i * 7919 + 13) & 0xff;
    while (letters.has(b)) b = (b + 1) & 0xff;
    junk[i] = b;
  }
  fs.writeFileSync(path.join(sd, 'a', 'supervise', 'control'), junk);
  await sleep(300);
  assert.equal(statusOf(path.join(sd, 'a'))!.pid, a.pid);
  assert.equal((await tool('s6-svc', ['-d', path.join(sd, 'a')])).code, 0);
  await waitDown(path.join(sd, 'a'));
  // scanner control: a few unknown bytes, each one warning line, then it still obeys
  fs.writeFileSync(path.join(sd, '.s6-svscan', 'control'), Buffer.from([0x58, 0x00, 0xff, 0x0a]));
  await waitFor(() => lines(sv).filter((l) => /received unknown control command/.test(l)).length === 4, 3000, '4 warnings');
  assert.equal((await tool('s6-svscanctl', ['-a', sd])).code, 0);
  await witnessFine(sd, w.pid);
});

test('run missing, run not executable, a non-fifo supervise/control, a symlink loop, a dangling link', async () => {
  const sd = tree({
    'witness/run!': SLEEP_RUN,
    'norun/finish!': '#!/bin/sh\nexit 0\n',
    'noexec/run': SLEEP_RUN,
    'badctl/run!': SLEEP_RUN,
    'badctl/supervise/control': 'a regular file\n',
    'loop@': 'loop',
    'dangling@': '/nonexistent/vigil-test',
  });
  const sv = await scanner(sd);
  const w = await waitUp(path.join(sd, 'witness'));
  await waitLine(sv, /^vigil: warning: norun: unable to spawn \.\/run - waiting 10 seconds: ENOENT/);
  await waitLine(sv, /^vigil: warning: noexec: unable to spawn \.\/run - waiting 10 seconds: EACCES/);
  await waitLine(sv, /^vigil: warning: badctl: supervise\/control exists and is not a fifo/);
  await waitLine(sv, /^vigil: warning: loop: unable to stat: ELOOP \(symlink loop\) - skipping it$/);
  await waitLine(sv, /^vigil: warning: dangling: dangling symlink - skipping it$/);
  // status of a service whose run cannot start: unchanged (down, want up), no event
  const st = statusOf(path.join(sd, 'norun'))!;
  assert.equal(st.pid, 0);
  assert.equal(st.wantUp, true);
  // fixing the problem is picked up on the next retry (chmod +x; the 10 s retry), the rest still fine
  await witnessFine(sd, statusOf(path.join(sd, 'witness'))!.pid);
  // repeated rescans do not repeat the loop warning
  await tool('s6-svscanctl', ['-a', sd]);
  await tool('s6-svscanctl', ['-a', sd]);
  await sleep(200);
  assert.equal(lines(sv).filter((l) => /loop: unable to stat/.test(l)).length, 1);
  assert.ok(w.pid > 0);
});

test('a service dir removed while running: every message names it, -h is accepted, others fine', async () => {
  const sd = tree({ 'witness/run!': SLEEP_RUN, 'doomed/run!': SLEEP_RUN });
  const sv = await scanner(sd);
  const w = await waitUp(path.join(sd, 'witness'));
  const d = await waitUp(path.join(sd, 'doomed'));
  fs.rmSync(path.join(sd, 'doomed'), { recursive: true, force: true });
  // the run dies: the supervisor cannot write its status any more and says so
  process.kill(d.pid, 'SIGKILL');
  await waitLine(sv, /^vigil: warning: doomed: unable to write supervise\/status: ENOENT/);
  await waitLine(sv, /^vigil: warning: doomed: unable to spawn \.\/run - waiting 10 seconds: .*removed/, 5000);
  assert.equal((await tool('s6-svscanctl', ['-h', sd])).code, 0);
  await sleep(300);
  for (const l of lines(sv)) assert.match(l, /^vigil: warning: doomed: /);
  await witnessFine(sd, w.pid);
});

test('an unreadable service dir (scanner run as nobody): one message naming it, others fine', async () => {
  const sd = tmpdir();
  cleanup.push(() => removeTree(sd));
  fs.chmodSync(sd, 0o755);
  makeTree({ 'witness/run!': SLEEP_RUN, 'locked/run!': SLEEP_RUN }, sd);
  for (const p of [sd, path.join(sd, 'witness'), path.join(sd, 'witness', 'run')]) fs.chownSync(p, 65534, 65534);
  fs.chmodSync(path.join(sd, 'locked'), 0o000);
  const bg = startBg('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, VIGIL, 'svscan', sd]);
  cleanup.push(() => bg.kill());
  await waitListening(sd, bg);
  const w = await waitUp(path.join(sd, 'witness'));
  await waitLine(bg, /^vigil: warning: locked: .*(EACCES|not accessible)/);
  // each problem said once, on one line naming the service (in-supervisor logging may add its own line
  // about the unreadable log-dir)
  const locked = lines(bg).filter((l) => /locked/.test(l));
  for (const l of locked) assert.match(l, /^vigil: warning: locked: .*EACCES/);
  assert.equal(locked.filter((l) => /not accessible/.test(l)).length, 1, `said once: ${bg.stderr()}`);
  assert.equal(statusOf(path.join(sd, 'witness'))!.pid, w.pid);
  fs.chmodSync(path.join(sd, 'locked'), 0o755);
});
