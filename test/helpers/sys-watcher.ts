/**
 * Fixture for test/sys/reaper.test.ts (run as a separate process): `node sys-watcher.js N`. Installs the
 * reaper, then REMOVES its SIGCHLD listener — SIGCHLD is back to SIG_DFL, no signal reaches JS — so the
 * shim's child watcher is the only wake-up left. Spawns N children that exit at staggered moments (and,
 * through a shell, N grandchildren that are not ours), waits until every owner was called, and prints one
 * JSON line: owners called, SIGCHLD still caught or not, zombies left.
 */
import * as fs from 'node:fs';
import { drain, installReaper, onExit } from '../../src/sys/reaper';
import { native } from '../../src/sys/native';

const N = Number(process.argv[2] ?? '300');
installReaper();
process.removeListener('SIGCHLD', drain);
// SigCgt: the caught-signals mask; bit 16 is SIGCHLD (17)
const caught = BigInt(`0x${/^SigCgt:\s+([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]}`);
const sigchldCaught = (caught >> 16n) & 1n;
let called = 0;
const t0 = Date.now();
for (let i = 0; i < N; i++) {
  const pid = native().spawn('/bin/sh', ['sh', '-c', `sleep 0.${String(i % 10)}`], [], [null, 2, 2]);
  onExit(pid, () => {
    called++;
    if (called === N) done('done');
  });
}
const deadline = setTimeout(() => done('timeout'), 30_000);
function done(why: string): void {
  clearTimeout(deadline);
  let zombies = 0;
  for (const t of fs.readdirSync('/proc/self/task')) {
    for (const p of fs.readFileSync(`/proc/self/task/${t}/children`, 'utf8').trim().split(' ').filter(Boolean)) {
      try {
        const s = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
        if (s.slice(s.lastIndexOf(')') + 2)[0] === 'Z') zombies++;
      } catch {
        /* gone */
      }
    }
  }
  process.stdout.write(`${JSON.stringify({ why, called, n: N, sigchldCaught: Number(sigchldCaught), zombies, ms: Date.now() - t0 })}\n`, () => process.exit(0));
}
