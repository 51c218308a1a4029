// A hostile scan directory (test/helpers/fuzztree.ts): several hundred malformed service directories —
// garbage, 10 MB and binary config files, fd numbers past the fd limit, fifos and directories and looping
// symlinks where files belong, log-dir into /proc, /sys and /dev, supervise/event that are not directories,
// run missing / not executable / a directory / a fifo / garbage, dangling and looping service symlinks,
// names with a newline, control bytes and 250 bytes — beside 20 good services. The good ones are up within
// 5 s, every bad one is reported in exactly one line (of bounded length, naming it), the scanner stays
// under 100 MB RSS and stops within 1 s of SIGTERM.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir, removeTree } from '../helpers/scandir';
import { makeFuzzTree } from '../helpers/fuzztree';
import { startVigilSvscan } from '../helpers/svscan';
import { waitFor, statusOf, sleep } from '../helpers/wait';
import { isUp } from '../../src/formats/status';

test('several hundred hostile service dirs beside 20 good ones: good up in 5 s, each bad one said once, < 100 MB, SIGTERM in 1 s', { timeout: 120000 }, async (t) => {
  const root = tmpdir('vigil-fuzz-');
  t.after(() => removeTree(root));
  const tree = makeFuzzTree(root, { good: 20 });
  assert.ok(tree.bad.length >= 250, `${tree.bad.length} bad services`);
  const t0 = Date.now();
  const sv = await startVigilSvscan(root, [`-c${tree.bad.length + tree.good.length + 10}`], {});
  t.after(() => sv.kill());
  await waitFor(() => tree.good.every((g) => { const s = statusOf(path.join(root, g)); return s && isUp(s); }), 5000 - (Date.now() - t0) + 2000,
    'the 20 good services up');
  const upMs = Date.now() - t0;
  assert.ok(upMs < Number(process.env.FUZZ_UP_MS ?? 5000), `good services up after ${upMs} ms`);
  // every bad one said, then nothing more: the retries (run every 10 s, the scan's 3 s retry) say nothing new
  const said = (b: { token: string }) => sv.stderr().split('\n').filter((l) => l.includes(b.token)).length;
  await waitFor(() => tree.bad.every((b) => said(b) >= 1), 15000, `a line for every bad service (missing: ${tree.bad.filter((b) => said(b) === 0).map((b) => JSON.stringify(b.name.slice(0, 40))).slice(0, 10)})`);
  await sleep(11000); // past one spawn retry (10 s) and the 3 s rescans
  const lines = sv.stderr().split('\n').filter(Boolean);
  const twice = tree.bad.filter((b) => said(b) !== 1).map((b) => `${b.kind}: ${said(b)} lines`);
  assert.deepEqual(twice, [], 'each bad service in exactly one line');
  for (const l of lines) {
    assert.ok(Buffer.byteLength(l) <= 1100, `a line of ${Buffer.byteLength(l)} bytes: ${l.slice(0, 100)}`);
    assert.match(l, /^vigil: warning: /);
  }
  const hwm = Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${sv.pid}/status`, 'utf8'))![1]) * 1024;
  assert.ok(hwm < 100 * 1024 * 1024, `peak RSS ${(hwm / 1048576).toFixed(1)} MB`);
  // the good ones are still up, and SIGTERM stops everything within 1 s
  assert.ok(tree.good.every((g) => isUp(statusOf(path.join(root, g))!)));
  const ts = Date.now();
  sv.signal('SIGTERM');
  await waitFor(() => sv.hasExited(), 5000, 'the scanner to exit after SIGTERM');
  const stopMs = Date.now() - ts;
  assert.ok(stopMs < 1000, `stopped ${stopMs} ms after SIGTERM`);
});
