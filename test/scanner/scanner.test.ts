// vigil svscan's scanner rules, log pipes, shutdown order and signal scripts, judged by s6's tools
// (s6-protocol.md §8 and §11 ideas 2, 12-15).
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTree, removeTree, SLEEP_RUN, addEntry } from '../helpers/scandir';
import { startVigilSvscan, startBg, tool, vigil, Bg, waitListening, VIGIL } from '../helpers/svscan';
import { waitFor, waitUp, statusOf, sleep } from '../helpers/wait';

const cleanup: Array<() => void> = [];
after(() => {
  for (const f of cleanup.reverse()) f();
});
function tree(t: Record<string, string>): string {
  const d = makeTree(t);
  cleanup.push(() => removeTree(d));
  return d;
}
async function scanner(sd: string, args: string[] = []): Promise<Bg> {
  const sv = await startVigilSvscan(sd, args);
  cleanup.push(() => sv.kill());
  return sv;
}
const ok = async (dir: string) => (await tool('s6-svok', [dir])).code;

test('13: dot dirs and files skipped, symlinks followed, two links to one dir = one supervisor, -h drops a removed service', async () => {
  const store = tree({ 'real/run!': SLEEP_RUN });
  const sd = tree({
    'a/run!': SLEEP_RUN,
    '.hidden/run!': SLEEP_RUN,
    'plain-file': 'not a service\n',
    'l1@': path.join(store, 'real'),
    'l2@': path.join(store, 'real'),
  });
  const sv = await scanner(sd);
  await waitUp(path.join(sd, 'a'));
  await waitUp(path.join(store, 'real'));
  assert.equal(await ok(path.join(sd, '.hidden')), 1, 'dot dir not supervised');
  assert.ok(!fs.existsSync(path.join(sd, '.hidden', 'supervise')));
  // one supervisor for both links: one run process
  await sleep(300);
  const runs = fs.readdirSync('/proc').filter((p) => /^[0-9]+$/.test(p)).filter((p) => {
    try {
      return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('sleep\u00001000000') &&
        fs.readlinkSync(`/proc/${p}/cwd`) === fs.realpathSync(path.join(store, 'real'));
    } catch {
      return false;
    }
  });
  assert.equal(runs.length, 1, `one run for two links, saw ${runs.length}`);
  // remove a service + -h: its supervision ends within a second or so
  const aPid = statusOf(path.join(sd, 'a'))!.pid;
  // removed the way s6-linux-init-shutdownd does it: renamed to a dot name, which the scanner ignores
  const moved = path.join(sd, '.a-removed');
  fs.renameSync(path.join(sd, 'a'), moved);
  cleanup.push(() => {
    try {
      process.kill(aPid, 'SIGKILL');
    } catch {
      /* gone */
    }
  });
  const h = await tool('s6-svscanctl', ['-h', sd]);
  assert.equal(h.code, 0);
  await waitFor(async () => (await ok(moved)) === 1, 2000, 'removed service unsupervised');
  assert.equal(statusOf(moved)!.pid, 0, 'its run was stopped');
  assert.ok(!sv.hasExited());
  assert.equal(sv.stderr(), '');
});

test('2: lock interop: s6-supervise exits 100 on a vigil dir; vigil refuses a dir s6-supervise holds', async () => {
  const sd = tree({ 'a/run!': SLEEP_RUN });
  await scanner(sd);
  await waitUp(path.join(sd, 'a'));
  const r = await tool('s6-supervise', [path.join(sd, 'a')], 5000);
  assert.equal(r.code, 100);
  assert.match(r.stderr, /already running/);

  const other = tree({ 'b/run!': SLEEP_RUN });
  const real = startBg('s6-supervise', ['b'], { cwd: other });
  cleanup.push(() => real.kill());
  await waitUp(path.join(other, 'b'));
  const v = await vigil(['supervise', path.join(other, 'b')], 5000);
  assert.equal(v.code, 100);
  assert.match(v.stderr, /b: another supervisor .* already holds supervise\/lock/);
  // and the scanner: a one-line warning naming the service, the rest undisturbed
  fs.symlinkSync(path.join(other, 'b'), path.join(sd, 'b'));
  const sv2 = await tool('s6-svscanctl', ['-a', sd]);
  assert.equal(sv2.code, 0);
  assert.equal(await ok(path.join(sd, 'a')), 0);
  real.kill();
});

test('12: the log pipe is held: lines survive SIGKILLs of logger and service (3 each), no gaps', async () => {
  const sd = tree({
    'svc/run!': '#!/bin/sh\ni=$(cat counter 2>/dev/null || echo 0)\nwhile :; do i=$((i+1)); echo $i; echo $i > counter; sleep 0.05; done\n',
    'svc/log/run!': '#!/bin/sh\nexec s6-log -b ./main\n',
  });
  const sv = await scanner(sd);
  const dir = path.join(sd, 'svc');
  const logdir = path.join(dir, 'log');
  await waitUp(dir);
  await waitUp(logdir);
  for (let i = 0; i < 3; i++) {
    await sleep(250);
    const s = statusOf(logdir)!;
    process.kill(s.pid, 'SIGKILL');
    await waitUp(logdir, 3000, s.pid);
    await sleep(250);
    const m = statusOf(dir)!;
    process.kill(m.pid, 'SIGKILL');
    await waitUp(dir, 3000, m.pid);
  }
  await sleep(300);
  // stop the tree: every line written before the service died reaches the logger (idea 14)
  const t = await tool('s6-svscanctl', ['-t', sd]);
  assert.equal(t.code, 0);
  await waitFor(() => sv.hasExited(), 8000, 'scanner exit after -t');
  // counter holds the last number echoed (empty if SIGTERM came between truncate and write)
  const counter = Number(fs.readFileSync(path.join(dir, 'counter'), 'utf8').trim() || '0');
  const files = fs.readdirSync(path.join(logdir, 'main')).filter((f) => f === 'current' || /^@.*\.[su]$/.test(f));
  const seen = new Set<number>();
  for (const f of files) {
    for (const l of fs.readFileSync(path.join(logdir, 'main', f), 'utf8').split('\n')) if (l) seen.add(Number(l));
  }
  const last = Math.max(0, ...seen);
  assert.ok(last >= counter, `the logger got up to ${last}, the service wrote ${counter}`);
  const missing: number[] = [];
  for (let i = 1; i <= last; i++) if (!seen.has(i)) missing.push(i);
  assert.ok(last > 20, `only ${last} lines written`);
  assert.deepEqual(missing, [], `missing lines (last ${last})`);
});

test('14: -d 3 writes exactly a newline; finish runs with no arguments in the scan dir', async () => {
  const sd = tree({
    'a/run!': SLEEP_RUN,
    '.s6-svscan/finish!': '#!/bin/sh\necho "$# $0" > finish-ran\npwd >> finish-ran\nexit 42\n',
  });
  const bg = startBg(process.execPath, [VIGIL, 'svscan', '-d', '3', sd], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  cleanup.push(() => bg.kill());
  let ready = '';
  const ended = new Promise<void>((resolve) => {
    const s = bg.proc.stdio[3] as NodeJS.ReadableStream;
    s.on('data', (b: Buffer) => (ready += b.toString('latin1')));
    s.on('end', () => resolve());
  });
  await Promise.race([ended, sleep(5000)]);
  assert.equal(ready, '\n', 'readiness is one newline, then EOF');
  await waitListening(sd, bg);
  await waitUp(path.join(sd, 'a'));
  const t = await tool('s6-svscanctl', ['-t', sd]);
  assert.equal(t.code, 0);
  const [code] = await Promise.race([bg.exited, sleep(5000).then(() => [null, null] as const)]);
  assert.equal(code, 42, "finish's exit code is the scanner's");
  assert.equal(fs.readFileSync(path.join(sd, 'finish-ran'), 'utf8'), `0 .s6-svscan/finish\n${fs.realpathSync(sd)}\n`);
  assert.equal(statusOf(path.join(sd, 'a'))!.pid, 0, 'service brought down before finish');
});

test('15: .s6-svscan/SIG* scripts replace the default action; without SIGTERM script SIGTERM stops the tree', async () => {
  const sd = tree({
    'a/run!': SLEEP_RUN,
    '.s6-svscan/SIGUSR1!': '#!/bin/sh\necho usr1 >> marks\n',
    '.s6-svscan/SIGTERM!': '#!/bin/sh\necho term >> marks\n',
    '.s6-svscan/SIGUSR2!': '#!/bin/sh\necho "$#" >> marks\n',
  });
  const sv = await scanner(sd);
  await waitUp(path.join(sd, 'a'));
  sv.signal('SIGUSR1');
  await waitFor(() => fs.existsSync(path.join(sd, 'marks')) && fs.readFileSync(path.join(sd, 'marks'), 'utf8').includes('usr1'), 3000, 'USR1 script');
  sv.signal('SIGTERM');
  await waitFor(() => fs.readFileSync(path.join(sd, 'marks'), 'utf8').includes('term'), 3000, 'TERM script');
  sv.signal('SIGUSR2');
  await waitFor(() => fs.readFileSync(path.join(sd, 'marks'), 'utf8').includes('0\n'), 3000, 'USR2 script with no args');
  await sleep(200);
  assert.ok(!sv.hasExited(), 'SIGTERM with a script does not stop the tree');
  assert.equal(await ok(path.join(sd, 'a')), 0);
  // no inspector opened on SIGUSR1
  assert.doesNotMatch(sv.stderr(), /Debugger/);
  // WINCH/PWR without scripts: nothing happens
  sv.signal('SIGWINCH');
  sv.signal('SIGPWR');
  await sleep(200);
  assert.ok(!sv.hasExited());
  fs.unlinkSync(path.join(sd, '.s6-svscan', 'SIGTERM'));
  sv.signal('SIGTERM');
  await waitFor(() => sv.hasExited(), 5000, 'scanner stops on SIGTERM without a script');
  assert.equal(statusOf(path.join(sd, 'a'))!.pid, 0);
  assert.equal(sv.stderr(), '');
});

test('second scanner on the same dir exits 100 with s6-svscan\'s message; s6-svscan refuses a vigil dir too', async () => {
  const sd = tree({ 'a/run!': SLEEP_RUN });
  await scanner(sd);
  const r = await vigil(['svscan', sd], 5000);
  assert.equal(r.code, 100);
  assert.match(r.stderr, /another instance of s6-svscan is already running on the same directory/);
  const s = await tool('s6-svscan', [sd], 5000);
  assert.equal(s.code, 100);
  addEntry(sd, 'b/run!', SLEEP_RUN);
  assert.equal((await tool('s6-svscanctl', ['-a', sd])).code, 0);
  await waitUp(path.join(sd, 'b'));
});
