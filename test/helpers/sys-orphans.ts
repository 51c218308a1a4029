/**
 * Fixture for test/sys/reaper.test.ts (run as a separate process): `node sys-orphans.js pid1|subreaper N`.
 * Spawns a shell that makes N orphans ((sleep &) in a subshell), reaps everything through the one reaper,
 * then prints one JSON line: how many orphans were reaped and how many zombies are left.
 * pid1 mode is meant for `unshare --pid --fork --mount-proc`; subreaper mode sets PR_SET_CHILD_SUBREAPER.
 */
import * as fs from 'node:fs';
import { installReaper, reaperStats, setOrphanHandler, setSubreaper, getSubreaper } from '../../src/sys/reaper';
import { spawnProcess } from '../../src/sys/spawn';

const mode = process.argv[2];
const N = Number(process.argv[3] ?? '100');
if (mode === 'subreaper') setSubreaper(true);
let shStatus: number | null = null;
let orphans = 0;
let sigchld = 0;
process.on('SIGCHLD', () => sigchld++);
// bounded by progress, not by throughput: the shell's forks are what a loaded machine slows down (743 of 1000
// orphans made in 40 s beside a CPU hog at load 30, none left a zombie), so the wait ends after 15 s without
// a new orphan, however long the whole run takes
const STALL_MS = 15_000;
const deadline = setTimeout(() => finish('timeout'), STALL_MS);
setOrphanHandler(() => {
  orphans++;
  deadline.refresh();
  check();
});
installReaper();
spawnProcess({
  argv: ['/bin/sh', '-c', `i=0; while [ $i -lt ${N} ]; do (sleep 0.2 &); i=$((i+1)); done`],
  fds: [null, 2, 2],
  onExit: (st) => {
    shStatus = st;
    deadline.refresh();
    check();
  },
});

function check(): void {
  if (shStatus !== null && orphans >= N) finish('done');
}

function finish(why: string): void {
  clearTimeout(deadline);
  let zombiesAll = 0;
  let zombiesOurs = 0;
  for (const d of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const s = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      if (f[0] === 'Z') {
        zombiesAll++;
        if (Number(f[1]) === process.pid) zombiesOurs++;
      }
    } catch {
      // gone meanwhile
    }
  }
  const out = { why, pid: process.pid, subreaper: getSubreaper(), shStatus, orphans, sigchld, stats: reaperStats(), zombiesAll, zombiesOurs };
  process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(0));
}
