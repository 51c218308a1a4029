// `vigil init` with a service manager (BASEDIR/rc.d), as PID 1 of a PID + mount namespace: the bundle
// `default` comes up before rc.init and CMD (its oneshots' output in the catch-all log), a failure is logged
// and by --on-rc-failure stops the container with the service manager's code, a halt during a slow start-up
// does not deadlock, and stage 3 brings the managed services down in reverse order before rc.shutdown.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bootInit, orderLines } from '../helpers/init-ns';
import { waitFor } from '../helpers/wait';

/** prepare (oneshot) → web (longrun, needs what prepare made) ← default; a log of the order in $VIGIL_RUNDIR/order */
function rcd(extra: Record<string, string> = {}): Record<string, string> {
  return {
    'rc.d/prepare/type': 'oneshot\n',
    'rc.d/prepare/up': 'sh -c "echo prepare-up-says-hi; mkdir $VIGIL_RUNDIR/data; echo prepare-up >> $VIGIL_RUNDIR/order"\n',
    'rc.d/prepare/down': 'sh -c "echo prepare-down >> $VIGIL_RUNDIR/order; rmdir $VIGIL_RUNDIR/data"\n',
    'rc.d/web/type': 'longrun\n',
    'rc.d/web/dependencies.d/prepare': '',
    'rc.d/web/run!': '#!/bin/sh\ntest -d "$VIGIL_RUNDIR/data" || exit 9\necho web-up >> "$VIGIL_RUNDIR/order"\nexec sleep 100000\n',
    'rc.d/web/finish!': '#!/bin/sh\necho web-down >> "$VIGIL_RUNDIR/order"\n',
    'rc.d/default/type': 'bundle\n',
    'rc.d/default/contents.d/web': '',
    'rc.init!': '#!/bin/sh\necho "rc.init sees: $(vigil rc -a list | tr \'\\n\' \' \')" >> "$VIGIL_RUNDIR/order"\n',
    'rc.shutdown!': '#!/bin/sh\necho "rc.shutdown sees: $(vigil rc -a list | tr \'\\n\' \' \')" >> "$VIGIL_RUNDIR/order"\n',
    ...extra,
  };
}

const order = orderLines;

const PATH_WITH_VIGIL = `${path.resolve(__dirname, '..', '..', '..', 'bin')}:${process.env.PATH}`;

test('default comes up before rc.init and CMD; stage 3 brings it down in reverse order before rc.shutdown', { timeout: 60000 }, async (t) => {
  const b = await bootInit(t, {
    tree: rcd(),
    env: { PATH: PATH_WITH_VIGIL },
    cmd: ['/bin/sh', '-c', 'echo "cmd sees: $(vigil rc -a list | tr \'\\n\' \' \')" >> "$VIGIL_RUNDIR/order"; s6-svstat -o up "$VIGIL_RUNDIR/service/web" >> "$VIGIL_RUNDIR/order"; exec sleep 100000'],
  });
  await waitFor(() => order(b.rundir).some((l) => l === 'true'), 20000, 'CMD ran');
  b.signal('SIGTERM');
  const r = await b.exited(20000);
  assert.equal(r.code, 143, b.stderr());
  assert.deepEqual(order(b.rundir), [
    'prepare-up', 'web-up', 'rc.init sees: web prepare ', 'cmd sees: web prepare ', 'true',
    'web-down', 'prepare-down', 'rc.shutdown sees:',
  ]);
  assert.ok(b.logLines().includes('prepare-up-says-hi'), 'a oneshot\'s output goes to the catch-all log');
  assert.equal(fs.readlinkSync(path.join(b.rundir, 'service', 'web')), path.join(b.rundir, 's6-rc', 'servicedirs', 'web'));
});

test('a failure: logged, CMD still runs (continue); with --on-rc-failure stop the container exits 1 and CMD never runs', { timeout: 60000 }, async (t) => {
  const failing = { 'rc.d/prepare/up': 'sh -c "echo cannot-prepare; exit 5"\n' };
  const b = await bootInit(t, { tree: rcd(failing), env: { PATH: PATH_WITH_VIGIL }, cmd: ['/bin/sh', '-c', 'echo cmd-ran >> "$VIGIL_RUNDIR/order"; exit 3'] });
  const r = await b.exited(30000);
  assert.equal(r.code, 3, b.stderr());
  const lines = b.logLines();
  assert.ok(lines.includes('vigil rc: warning: unable to start service prepare: command exited 5'), lines.join('\n'));
  assert.ok(lines.includes('vigil rc: warning: not started because prepare failed: web'), lines.join('\n'));
  assert.ok(lines.some((l) => /^vigil init: warning: the bundle default did not come up \(vigil rc exit 1\); failed: prepare$/.test(l)), lines.join('\n'));
  assert.ok(order(b.rundir).includes('cmd-ran'));
  const s = await bootInit(t, {
    tree: rcd(failing), env: { PATH: PATH_WITH_VIGIL }, args: ['--on-rc-failure', 'stop'], cmd: ['/bin/sh', '-c', 'echo cmd-ran >> "$VIGIL_RUNDIR/order"'],
  });
  const rs = await s.exited(30000);
  assert.equal(rs.code, 1, s.stderr());
  assert.ok(!order(s.rundir).includes('cmd-ran'), 'CMD never ran');
  assert.ok(!order(s.rundir).some((l) => l.startsWith('rc.init')), 'rc.init never ran');
  assert.ok(s.logLines().some((l) => l.includes('--on-rc-failure is stop: shutting down')));
});

test('a halt during a slow start-up: pending transitions are cancelled, the container stops at once', { timeout: 60000 }, async (t) => {
  const b = await bootInit(t, {
    tree: rcd({
      'rc.d/hang/type': 'oneshot\n', 'rc.d/hang/up': 'sh -c "echo hang-up >> $VIGIL_RUNDIR/order; exec sleep 100000"\n',
      'rc.d/hang/dependencies.d/prepare': '', 'rc.d/web/dependencies.d/hang': '',
    }),
    env: { PATH: PATH_WITH_VIGIL },
    args: ['--grace', '5000'],
    cmd: ['/bin/sh', '-c', 'echo cmd-ran >> "$VIGIL_RUNDIR/order"'],
  });
  await waitFor(() => order(b.rundir).includes('hang-up'), 20000, 'hang started');
  const t0 = Date.now();
  b.signal('SIGTERM');
  const r = await b.exited(20000);
  assert.ok(Date.now() - t0 < 4000, `stopped in ${Date.now() - t0} ms (no deadlock, no grace wait)`);
  assert.deepEqual(order(b.rundir), ['prepare-up', 'hang-up', 'prepare-down', 'rc.shutdown sees:']);
  assert.ok(b.logLines().includes('vigil rc: warning: cancelled: the service manager is shutting down'), b.logLines().join('\n'));
  assert.notEqual(r.code, null);
});
