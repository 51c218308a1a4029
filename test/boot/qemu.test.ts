// Boot Debian's cloud kernel under QEMU (TCG) with `vigil init --machine` as /init (see test/boot/qemu.ts):
// stage 1 mounts, the fifo trick, stage 2 starting a service that answers, `vigil poweroff` → "reboot: Power down".
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { bootQemu, failureReport, killAll, prepareBoot, MARKERS } from './qemu';

test('QEMU boot with vigil init as PID 1 reaches stage 2, a service answers, poweroff', { timeout: 150000 }, async (t) => {
  const p = prepareBoot();
  t.after(() => { killAll(); p.cleanup(); });
  const r = await bootQemu(p, 120000);
  const times = MARKERS.map(([n]) => `${n}=${r.at[n] ?? '-'}ms`).join(' ');
  t.diagnostic(`wall ${r.wallMs} ms; ${times}`);
  assert.deepEqual(r.problems, [], r.problems.length ? failureReport(r) : undefined);
});
