// vigil svscan as PID 1 of a PID namespace: 1000 orphans double-forked by a service are all reaped, then
// SIGTERM from outside brings the tree down and finish's exit code becomes the namespace's status
// (s6-protocol.md §8.6, §11 idea 16). Its own file: forking 1000 processes is slow on a loaded machine.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTree, removeTree, SLEEP_RUN, addEntry } from '../helpers/scandir';
import { startBg, tool, Bg, VIGIL, descendants, waitListening } from '../helpers/svscan';
import { waitFor, waitUp, statusOf, sleep } from '../helpers/wait';

import { pid1, zombies, exitOf, cleanup } from '../helpers/pid1ns';
import { orphanBurstRun } from '../helpers/orphans';

test('16: 1000 orphans (double-forked by a service) are all reaped: no zombies', async () => {
  const { sd, ns } = await pid1({
    // a child shell starts 1000 sleeps and exits at once: they are orphans, re-parented to PID 1
    'forker/run!': '#!/bin/sh\nsh -c \'for i in $(seq 1000); do sleep 0.5 & done\'\necho spawned > spawned\nexec sleep 1000000\n',
    '.s6-svscan/finish!': '#!/bin/sh\nexit 42\n',
  });
  await waitFor(() => fs.existsSync(path.join(sd, 'forker', 'spawned')), 50000, 'orphans spawned');
  // all the sleeps end 0.2 s later and must be reaped by PID 1
  await waitFor(() => {
    const d = descendants(ns.pid1);
    return d.length <= 2 && zombies(ns.pid1) === 0 ? d.length + 1 : 0;
  }, 10000, 'orphans reaped (only the service left)');
  assert.equal(zombies(ns.pid1), 0);
  // SIGTERM from outside: tree down, finish exec'd as PID 1, its exit code is the namespace's status
  ns.signal('SIGTERM');
  const [code] = await exitOf(ns.bg, 8000);
  assert.equal(code, 42);
  assert.equal(statusOf(path.join(sd, 'forker'))!.pid, 0);
});


// Issue 10 item 0, short version (the stress script runs 50 × 10 000 beside a CPU hog): bursts of 500 orphans,
// half of them zombies by the time they are re-parented, so their SIGCHLDs arrive on top of each other; the
// shim's child watcher (level-triggered on zombies) must leave none 1 s after the last exit.
test('orphan bursts: 2 runs of 2000 orphans in bursts of 500, 0 zombies 1 s after the last exit', { timeout: 240000 }, async () => {
  for (let run = 1; run <= 2; run++) {
    const r = await orphanBurstRun({ orphans: 2000, burst: 500 });
    assert.ok(r.seen > 0, `run ${run}: some orphans were seen as PID 1's children (${r.seen})`);
    assert.equal(r.zombiesAfter1s, 0, `run ${run}: zombies 1 s after the last exit`);
  }
});
