// Machine mode turns ctrl-alt-del into SIGINT for PID 1 (RB_DISABLE_CAD) and SIGINT means reboot: stage 2
// exits without shutting down, the test presses ctrl-alt-del on the guest's PS/2 keyboard through QEMU's
// monitor, and vigil must run stage 3 (rc.shutdown) before "reboot: Restarting system". Had the kernel kept
// ctrl-alt-del for itself, it would restart at once, without rc.shutdown.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { bootQemu, failureReport, killAll, prepareBoot, MARKERS } from './qemu';

test('QEMU: ctrl-alt-del → SIGINT to vigil init → stage 3 → "reboot: Restarting system"', { timeout: 150000 }, async (t) => {
  const p = prepareBoot();
  t.after(() => { killAll(); p.cleanup(); });
  const r = await bootQemu(p, 120000, 'cad');
  t.diagnostic(`wall ${r.wallMs} ms; ${MARKERS.map(([n]) => `${n}=${r.at[n] ?? '-'}ms`).join(' ')}`);
  assert.deepEqual(r.problems, [], r.problems.length ? failureReport(r) : undefined);
});
