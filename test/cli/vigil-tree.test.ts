/**
 * vigil's client tools against `vigil svscan` (the other direction of the interop tests): every tool gives
 * the answer its s6 twin gives on the same tree, and the -w waits work on vigil's event fifodir.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compareBoth, maskSeconds } from '../helpers/cli-tree';
import { makeTree, SLEEP_RUN } from '../helpers/scandir';
import { startVigilSvscan, tool, vigil } from '../helpers/svscan';
import { waitFor } from '../helpers/wait';

test('vigil svc/svstat/svwait/svok/svdt/status work on a vigil svscan tree as on s6', async (t) => {
  const root = makeTree({
    'web/run!': SLEEP_RUN,
    'api/run!': '#!/bin/sh\nsleep 0.3\necho >&3\nexec sleep 1000000\n',
    'api/notification-fd': '3\n',
    'off/run!': SLEEP_RUN,
    'off/down': '',
  });
  const sv = await startVigilSvscan(root);
  t.after(() => {
    sv.kill();
    fs.rmSync(root, { recursive: true, force: true });
  });
  const d = (n: string) => path.join(root, n);
  await waitFor(async () => (await vigil(['svok', d('web')])).code === 0 && (await vigil(['svok', d('off')])).code === 0, 10000, 'vigil supervising web and off');

  let r = await vigil(['svc', '-wU', '-T', '8000', '-u', d('api')]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await tool('s6-svstat', ['-o', 'up,ready', d('api')])).stdout, 'true true\n');

  r = await vigil(['svc', '-wu', '-T', '8000', '-u', d('off')]);
  assert.equal(r.code, 0, r.stderr);
  r = await vigil(['svc', '-wD', '-T', '8000', '-d', d('off')]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await tool('s6-svstat', ['-o', 'up,wantedup,signal', d('off')])).stdout, 'false false SIGTERM\n');
  r = await vigil(['svwait', '-t', '300', '-u', d('off')]);
  assert.equal(r.code, 99);

  for (const s of ['web', 'api', 'off']) {
    for (const args of [[d(s)], ['-o', 'up,wantedup,normallyup,ready,paused,pid,exitcode,signal,signum,updownsince,readysince', d(s)]]) {
      const c = await compareBoth('svstat', args, maskSeconds);
      assert.ok(c.ok, c.detail);
    }
    const c = await compareBoth('svdt', [d(s)]);
    assert.ok(c.ok, c.detail);
    const ok = await compareBoth('svok', [d(s)]);
    assert.ok(ok.ok, ok.detail);
  }
  const st = JSON.parse((await vigil(['status', '--json', root])).stdout) as Array<{ name: string; state: string }>;
  assert.deepEqual(st.map((x) => [x.name, x.state]), [['api', 'up'], ['off', 'down'], ['web', 'up']]);
});
