// 10 000 services' worth of fds: the scanner raises its soft RLIMIT_NOFILE (started here with a soft limit
// of 4096) and supervises every service it has fds for (2 per service: lock + control fifo). Services are
// `down`, so nothing starts. Every supervise/status appears — or, when the machine's hard limit is below
// what 10 000 services need, each service left out gets one line naming it (EMFILE) — and control
// commands still work.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir, removeTree, SLEEP_RUN } from '../helpers/scandir';
import { startBg, tool, VIGIL, waitListening, Bg } from '../helpers/svscan';
import { waitFor, waitUp, waitDown } from '../helpers/wait';
import { getNofileLimit } from '../../src/sys/rlimit';

const N = 10000;
const cleanup: Array<() => void> = [];
after(() => {
  for (const f of cleanup.reverse()) f();
});

test(`${N} services: all supervised (or each one refused by name), control still works`, { timeout: 240000 }, async () => {
  const sd = tmpdir();
  cleanup.push(() => removeTree(sd));
  for (let i = 0; i < N; i++) {
    const d = path.join(sd, `s${i}`);
    fs.mkdirSync(d);
    fs.writeFileSync(path.join(d, 'run'), SLEEP_RUN, { mode: 0o755 });
    fs.writeFileSync(path.join(d, 'down'), '');
  }
  const hard = getNofileLimit().hard;
  const soft = Math.min(4096, hard);
  const sv: Bg = startBg('prlimit', [`--nofile=${soft}:${hard}`, process.execPath, VIGIL, 'svscan', '-c', String(N + 10), sd]);
  cleanup.push(() => sv.kill());
  await waitListening(sd, sv, 20000);
  const has = (i: number) => fs.existsSync(path.join(sd, `s${i}`, 'supervise', 'status'));
  const refused = () => new Set(sv.stderr().split('\n').map((l) => /^vigil: warning: (s[0-9]+): .*(EMFILE|not enough file descriptors)/.exec(l)?.[1]).filter(Boolean));
  await waitFor(() => {
    const r = refused();
    for (let i = 0; i < N; i++) if (!has(i) && !r.has(`s${i}`)) return false;
    return true;
  }, 200000, `every service supervised or refused by name`, 1000);
  let supervised = 0;
  for (let i = 0; i < N; i++) if (has(i)) supervised++;
  const r = refused();
  // only fd exhaustion may leave a service out, and only if the hard limit is short of 2 fds per service
  if (hard >= 2 * N + 200) assert.equal(supervised, N, `hard limit ${hard}: all must be supervised`);
  assert.equal(supervised + r.size, N);
  assert.ok(supervised >= Math.min(N, Math.floor(hard / 2) - 100), `${supervised} supervised with a hard limit of ${hard}`);
  for (const l of sv.stderr().split('\n').filter(Boolean)) assert.match(l, /^vigil: warning: s[0-9]+: .*(EMFILE|not enough file descriptors)/);
  // control still works: start one, stop it, s6-svstat agrees
  const pick = path.join(sd, [...Array(N).keys()].map((i) => `s${i}`).find((n) => has(Number(n.slice(1))))!);
  assert.equal((await tool('s6-svc', ['-u', pick])).code, 0);
  await waitUp(pick, 10000);
  assert.match((await tool('s6-svstat', [pick])).stdout, /^up \(pid [0-9]+\)/);
  assert.equal((await tool('s6-svc', ['-d', pick])).code, 0);
  await waitDown(pick, 10000);
  assert.equal((await tool('s6-svscanctl', ['-a', sd])).code, 0);
  sv.kill();
});
