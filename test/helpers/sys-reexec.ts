/**
 * Fixture for test/sys/reaper.test.ts: `node sys-reexec.js` re-execs itself with children alive.
 * gen 0 (no reaper installed): sets the subreaper flag, spawns A (`exit 3` at once) and B (exits 4 after
 * 300 ms), waits for A to die through a pidfd (A stays a zombie: nobody reaps it), then execve's itself.
 * gen 1: installs the reaper (whose first reap() must catch A, a death no SIGCHLD will announce again) and
 * prints one JSON line once A and B are both reaped.
 */
import { native } from '../../src/sys/native';
import { getSubreaper, installReaper, setOrphanHandler, setSubreaper } from '../../src/sys/reaper';
import { spawnProcess } from '../../src/sys/spawn';
import { execReplace } from '../../src/sys/exec';
import { watchReadable } from '../../src/sys/fdwatch';

const n = native();
if (process.env.VIGIL_REEXEC_GEN !== '1') {
  setSubreaper(true);
  const a = spawnProcess({ argv: ['/bin/sh', '-c', 'exit 3'], fds: [null, 2, 2] });
  const b = spawnProcess({ argv: ['/bin/sh', '-c', 'sleep 0.3; exit 4'], fds: [null, 2, 2] });
  const pidfd = n.pidfdOpen(a);
  const t = setTimeout(() => {
    process.stderr.write('gen0: A did not exit within 10 s\n');
    process.exit(2);
  }, 10_000);
  const w = watchReadable(pidfd, () => {
    w.stop();
    clearTimeout(t);
    n.close(pidfd);
    execReplace(process.execPath, [process.execPath, __filename], {
      ...process.env,
      VIGIL_REEXEC_GEN: '1',
      GEN0_PID: String(process.pid),
      CHILD_A: String(a),
      CHILD_B: String(b),
    });
  });
} else {
  const want = new Set([Number(process.env.CHILD_A), Number(process.env.CHILD_B)]);
  const reaped: Array<{ pid: number; status: number; atInstall: boolean }> = [];
  let installing = true;
  const t = setTimeout(() => done('timeout'), 10_000);
  setOrphanHandler((r) => {
    reaped.push({ ...r, atInstall: installing });
    if ([...want].every((p) => reaped.some((x) => x.pid === p))) done('done');
  });
  installReaper();
  installing = false;
  function done(why: string): void {
    clearTimeout(t);
    const out = { why, pid: process.pid, gen0: Number(process.env.GEN0_PID), subreaper: getSubreaper(), a: Number(process.env.CHILD_A), b: Number(process.env.CHILD_B), reaped };
    process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(0));
  }
}
