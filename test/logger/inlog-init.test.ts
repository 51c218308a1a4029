// In-supervisor logging under `vigil init --container --log-copy` (PID 1 of a fresh PID namespace): a service
// with log-dir is logged by init's scanner, its lines are copied to the container's stdout as "[name] line",
// and at `docker stop` (SIGTERM) the logdir is drained and closed cleanly before the container ends.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bootInit } from '../helpers/init-ns';
import { waitFor } from '../helpers/wait';

test('vigil init --container --log-copy: log-dir services logged by init, copied as [name] to stdout, drained at stop', { timeout: 40000 }, async (t) => {
  const b = await bootInit(t, {
    tree: {
      'rc.init!': '#!/bin/sh\nexit 0\n',
      'service/web/run!': '#!/bin/sh\necho web-line-1\necho web-line-2\ntrap \'echo web-bye; exit 0\' TERM\nsleep 100000 & wait $!\n',
      'service/web/log-dir': '../../web-logs\n',
    },
    args: ['--container', '--log-copy'],
    cmd: ['sleep', '100000'],
  });
  const cur = () => { try { return fs.readFileSync(path.join(b.rundir, 'web-logs', 'current'), 'utf8'); } catch { return ''; } };
  await waitFor(() => cur().includes('web-line-2'), 15000, 'web logged by init into RUNDIR/web-logs');
  assert.match(cur(), /^@[0-9a-f]{24} web-line-1\n@[0-9a-f]{24} web-line-2\n$/);
  await waitFor(() => b.stdout().includes('[web] web-line-2\n'), 5000, `the [web] copy on the container's stdout (got ${JSON.stringify(b.stdout())})`);
  assert.ok(b.stdout().includes('[web] web-line-1\n[web] web-line-2\n'));
  assert.ok(!b.logLines().some((l) => l.includes('web-line')), 'not in the catch-all log');
  // snapshot the rundir's logdir path before it goes: the test's t.after removes it only after this test
  const ld = path.join(b.rundir, 'web-logs');
  b.signal('SIGTERM');
  await b.exited(20000);
  const text = fs.readFileSync(path.join(ld, 'current'), 'utf8');
  assert.ok(text.includes(' web-bye\n'), `the line written while stopping landed: ${JSON.stringify(text)}`);
  assert.equal(fs.statSync(path.join(ld, 'current')).mode & 0o777, 0o744, 'current closed cleanly');
});
