// vigil svscan as PID 1 of a PID namespace (`unshare --pid --fork --mount-proc`): every orphan reaped,
// TERM/INT/HUP/USR1/USR2/PWR/WINCH as s6-svscan handles them (with and without .s6-svscan/SIG* scripts),
// finish's exit code = the namespace's status (s6-protocol.md §8.2, §8.6, §11 idea 16).
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTree, removeTree, SLEEP_RUN, addEntry } from '../helpers/scandir';
import { startBg, tool, Bg, VIGIL, descendants, waitListening } from '../helpers/svscan';
import { waitFor, waitUp, statusOf, sleep } from '../helpers/wait';

import { pid1, zombies, exitOf, cleanup } from '../helpers/pid1ns';

test('PID 1 without scripts: USR1 USR2 PWR WINCH do nothing (no inspector), HUP rescans, INT stops', async () => {
  const { sd, ns } = await pid1({ 'a/run!': SLEEP_RUN, '.s6-svscan/finish!': '#!/bin/sh\nexit 7\n' });
  await waitUp(path.join(sd, 'a'));
  for (const s of ['SIGUSR1', 'SIGUSR2', 'SIGPWR', 'SIGWINCH'] as NodeJS.Signals[]) ns.signal(s);
  await sleep(300);
  assert.ok(!ns.bg.hasExited());
  assert.doesNotMatch(ns.bg.stderr(), /Debugger|inspector/i);
  assert.equal((await tool('s6-svok', [path.join(sd, 'a')])).code, 0);
  // HUP = h: scan (a new service appears)
  addEntry(sd, 'b/run!', SLEEP_RUN);
  ns.signal('SIGHUP');
  await waitUp(path.join(sd, 'b'));
  ns.signal('SIGINT');
  const [code] = await exitOf(ns.bg, 8000);
  assert.equal(code, 7);
  assert.equal(ns.bg.stderr(), '');
});

test('PID 1 with scripts: each signal runs its .s6-svscan/SIG* script; TERM with a script does not stop', async () => {
  const tree: Record<string, string> = { 'a/run!': SLEEP_RUN, '.s6-svscan/finish!': '#!/bin/sh\nexit 3\n' };
  const sigs = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGPWR', 'SIGWINCH', 'SIGQUIT'];
  for (const s of sigs) tree[`.s6-svscan/${s}!`] = `#!/bin/sh\necho ${s} >> marks\n`;
  const { sd, ns } = await pid1(tree);
  await waitUp(path.join(sd, 'a'));
  for (const s of sigs) {
    ns.signal(s as NodeJS.Signals);
    await waitFor(() => {
      try {
        return fs.readFileSync(path.join(sd, 'marks'), 'utf8').includes(`${s}\n`);
      } catch {
        return false;
      }
    }, 3000, `${s} script`);
  }
  assert.ok(!ns.bg.hasExited(), 'scripts replaced every default action');
  assert.equal((await tool('s6-svok', [path.join(sd, 'a')])).code, 0);
  // the control fifo still stops it
  assert.equal((await tool('s6-svscanctl', ['-t', sd])).code, 0);
  const [code] = await exitOf(ns.bg, 8000);
  assert.equal(code, 3);
});

test('-r (subreaper) outside a namespace: orphans of services are reaped too', async () => {
  const sd = makeTree({ 'forker/run!': '#!/bin/sh\nfor i in $(seq 50); do (sleep 0.2 &) ; done\necho ok > spawned\nexec sleep 1000000\n' });
  cleanup.push(() => removeTree(sd));
  const bg = startBg(process.execPath, [VIGIL, 'svscan', '-r', sd]);
  cleanup.push(() => bg.kill());
  await waitListening(sd, bg);
  await waitFor(() => fs.existsSync(path.join(sd, 'forker', 'spawned')), 10000, 'spawned');
  await waitFor(() => descendants(bg.pid).length <= 1 && zombies(bg.pid) === 0, 8000, 'orphans reaped by the subreaper');
  bg.kill();
});
