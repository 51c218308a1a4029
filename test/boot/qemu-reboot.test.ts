// The same QEMU boot as qemu.test.ts, ended by `vigil reboot`: stage 3 runs and the kernel restarts
// ("reboot: Restarting system"; -no-reboot turns that into QEMU exiting).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { bootQemu, failureReport, killAll, prepareBoot, MARKERS } from './qemu';

test('QEMU boot ended by `vigil reboot` → stage 3, "reboot: Restarting system"', { timeout: 150000 }, async (t) => {
  const p = prepareBoot();
  t.after(() => { killAll(); p.cleanup(); });
  const r = await bootQemu(p, 120000, 'reboot');
  t.diagnostic(`wall ${r.wallMs} ms; ${MARKERS.map(([n]) => `${n}=${r.at[n] ?? '-'}ms`).join(' ')}`);
  assert.deepEqual(r.problems, [], r.problems.length ? failureReport(r) : undefined);
});
