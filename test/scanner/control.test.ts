// .s6-svscan/control letters b, tb, n, N and the special s6-svscan-log service with -X
// (s6-protocol.md §8.1-8.3), observed with s6-svscanctl, s6-svok and the processes themselves.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTree, removeTree, SLEEP_RUN } from '../helpers/scandir';
import { startVigilSvscan, startBg, tool, Bg, VIGIL, waitListening, isGoneOrZombie } from '../helpers/svscan';
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
const killLater = (pid: number) =>
  cleanup.push(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  });

test('-b: stop at once, exec finish, kill nothing; -tb: the kills of t are still sent', async () => {
  const sd = tree({ 'a/run!': SLEEP_RUN, '.s6-svscan/finish!': '#!/bin/sh\nexit 5\n' });
  const sv = await scanner(sd);
  const a = await waitUp(path.join(sd, 'a'));
  killLater(a.pid);
  assert.equal((await tool('s6-svscanctl', ['-b', sd])).code, 0);
  await waitFor(() => sv.hasExited(), 5000, 'scanner gone after -b');
  assert.equal((await sv.exited)[0], 5);
  assert.ok(!isGoneOrZombie(a.pid), '-b killed nothing');
  process.kill(a.pid, 'SIGKILL');

  const sd2 = tree({ 'a/run!': SLEEP_RUN, '.s6-svscan/finish!': '#!/bin/sh\nexit 6\n' });
  const sv2 = await scanner(sd2);
  const a2 = await waitUp(path.join(sd2, 'a'));
  killLater(a2.pid);
  assert.equal((await tool('s6-svscanctl', ['-tb', sd2])).code, 0);
  await waitFor(() => sv2.hasExited(), 5000, 'scanner gone after -tb');
  assert.equal((await sv2.exited)[0], 6);
  await waitFor(() => isGoneOrZombie(a2.pid), 3000, 'the TERM of -t reached the service');
});

test('-n / -N: only inactive services are killed; -n lets the logger run on, -N stops it too', async () => {
  const sd = tree({
    'keep/run!': SLEEP_RUN,
    'gone1/run!': SLEEP_RUN,
    'gone1/log/run!': SLEEP_RUN,
    'gone2/run!': SLEEP_RUN,
    'gone2/log/run!': SLEEP_RUN,
  });
  const sv = await scanner(sd);
  const keep = await waitUp(path.join(sd, 'keep'));
  const logs: number[] = [];
  for (const n of ['gone1', 'gone2']) {
    await waitUp(path.join(sd, n));
    logs.push((await waitUp(path.join(sd, n, 'log'))).pid);
  }
  for (const p of logs) killLater(p);
  // make both inactive (dot names are skipped) and rescan without killing
  fs.renameSync(path.join(sd, 'gone1'), path.join(sd, '.gone1'));
  fs.renameSync(path.join(sd, 'gone2'), path.join(sd, '.gone2'));
  assert.equal((await tool('s6-svscanctl', ['-a', sd])).code, 0);
  await sleep(200);
  assert.equal((await tool('s6-svok', [path.join(sd, '.gone1')])).code, 0, '-a kills nothing');
  // -n: TERM to the service's supervision (it goes down and ends), HUP to the logger's (runs on: its
  // run, a sleep, never gets EOF on stdin... it ignores stdin, so it just keeps running)
  assert.equal((await tool('s6-svscanctl', ['-n', sd])).code, 0);
  await waitFor(async () => (await tool('s6-svok', [path.join(sd, '.gone1')])).code === 1, 3000, 'gone1 supervision ended');
  assert.equal(statusOf(path.join(sd, '.gone1'))!.pid, 0);
  await sleep(300);
  assert.ok(!isGoneOrZombie(logs[0]), 'HUP: the logger keeps running');
  assert.equal((await tool('s6-svok', [path.join(sd, '.gone1', 'log')])).code, 0, 'its supervision waits for it');
  // -N: TERM to the logger's supervision as well
  assert.equal((await tool('s6-svscanctl', ['-N', sd])).code, 0);
  await waitFor(() => isGoneOrZombie(logs[0]) && isGoneOrZombie(logs[1]), 3000, 'loggers stopped by -N');
  await waitFor(async () => (await tool('s6-svok', [path.join(sd, '.gone2', 'log')])).code === 1, 3000, 'gone2/log supervision ended');
  // the active service was never touched
  assert.equal(statusOf(path.join(sd, 'keep'))!.pid, keep.pid);
  assert.equal(sv.stderr(), '');
});

test('s6-svscan-log: its log/ is ignored; with -X its run gets the console fd as stderr', async () => {
  const sd = tree({
    's6-svscan-log/run!': '#!/bin/sh\necho "to console" >&2\nexec sleep 1000000\n',
    's6-svscan-log/log/run!': '#!/bin/sh\necho started > ../started\nexec sleep 1000000\n',
  });
  const consoleFile = path.join(sd, 'console.txt');
  const fd = fs.openSync(consoleFile, 'w');
  const bg = startBg(process.execPath, [VIGIL, 'svscan', '-X', '3', sd], { stdio: ['ignore', 'pipe', 'pipe', fd] });
  fs.closeSync(fd);
  cleanup.push(() => bg.kill());
  await waitListening(sd, bg);
  await waitUp(path.join(sd, 's6-svscan-log'));
  await waitFor(() => fs.readFileSync(consoleFile, 'utf8').includes('to console'), 3000, 'stderr on the console fd');
  await sleep(300);
  assert.ok(!fs.existsSync(path.join(sd, 's6-svscan-log', 'log', 'supervise')), 'log/ of s6-svscan-log not supervised');
  assert.ok(!fs.existsSync(path.join(sd, 's6-svscan-log', 'started')));
  assert.doesNotMatch(bg.stderr(), /to console/);
});

test('-t rescans periodically; SIGALRM rescans; permissions of .s6-svscan and supervise/ as s6', async () => {
  const sd = tree({ 'a/run!': SLEEP_RUN });
  const sv = await scanner(sd, ['-t', '200']);
  await waitUp(path.join(sd, 'a'));
  fs.mkdirSync(path.join(sd, 'b'));
  fs.writeFileSync(path.join(sd, 'b', 'run'), SLEEP_RUN, { mode: 0o755 });
  await waitUp(path.join(sd, 'b'), 3000);
  const sd2 = tree({ 'a/run!': SLEEP_RUN });
  const sv2 = await scanner(sd2);
  await waitUp(path.join(sd2, 'a'));
  fs.mkdirSync(path.join(sd2, 'c'));
  fs.writeFileSync(path.join(sd2, 'c', 'run'), SLEEP_RUN, { mode: 0o755 });
  await sleep(300);
  assert.ok(!fs.existsSync(path.join(sd2, 'c', 'supervise')), 'no -t: no scan by itself');
  sv2.signal('SIGALRM');
  await waitUp(path.join(sd2, 'c'), 3000);
  const mode = (p: string) => (fs.statSync(path.join(sd, p)).mode & 0o7777).toString(8);
  const type = (p: string) => fs.statSync(path.join(sd, p));
  assert.equal(mode('.s6-svscan'), '700');
  assert.equal(mode('.s6-svscan/lock'), '600');
  assert.equal(mode('.s6-svscan/control'), '600');
  assert.ok(type('.s6-svscan/control').isFIFO());
  assert.equal(mode('a/supervise'), '700');
  assert.equal(mode('a/supervise/lock'), '644');
  assert.equal(mode('a/supervise/control'), '600');
  assert.ok(type('a/supervise/control').isFIFO());
  assert.equal(mode('a/event'), '3730');
  assert.equal(fs.statSync(path.join(sd, 'a/supervise/status')).size, 35);
  assert.equal(sv.stderr() + sv2.stderr(), '');
});
