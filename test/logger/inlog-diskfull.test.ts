// In-supervisor logging on a full disk: `vigil svscan` runs in a private mount namespace where a small tmpfs is
// full. The logged service's lines wait (bounded: the scanner stops reading, the service blocks in write), a
// warning naming the service goes to the scanner's stderr, another logged service keeps logging, and once space
// returns every line lands, in order.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTree, tmpdir, removeTree } from '../helpers/scandir';
import { startBg, waitListening, VIGIL } from '../helpers/svscan';
import { waitFor, sleep } from '../helpers/wait';

function lines(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const files = names.filter((n) => /^@[0-9a-f]{24}\.[su]$/.test(n)).sort();
  files.push('current');
  return files
    .map((n) => { try { return fs.readFileSync(path.join(dir, n), 'latin1'); } catch { return ''; } })
    .join('')
    .split('\n')
    .filter((l) => l !== '');
}

test('full disk: warning naming the service, back-pressure, others undisturbed, nothing lost once space returns', { timeout: 60000 }, async (t) => {
  const root = tmpdir('vigil-inlogfull-');
  const mnt = path.join(root, 'mnt');
  fs.mkdirSync(mnt);
  const sd = path.join(root, 'sd');
  const N = 10000; // 10000 × 50 bytes = 500 kB: more than the 256 KiB cap + the pipe
  const line = (i: string) => `n${i} ${'d'.repeat(40)}`;
  makeTree({
    // no fork per line (numbers from 1000001: fixed width without printf)
    'full/run!': `#!/bin/sh\ni=1000000; while [ $i -lt ${1000000 + N} ]; do i=$((i+1)); echo "n$i ${'d'.repeat(40)}"; done\ntouch done\nexec sleep 100000\n`,
    'full/log-dir': `${mnt}/full\n`,
    'full/log-script': 'r100\ns1000000\nn1000\n',
    'other/run!': '#!/bin/sh\ni=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.05; done\n',
    'other/log-dir': '../../logs/other\n',
  }, sd);
  // the tmpfs is filled up before the scanner starts; unshare execs sh which execs node: bg.pid is the scanner
  const bg = startBg('unshare', ['-m', '--propagation', 'private', 'sh', '-c',
    'mount -t tmpfs -o size=1m,mode=0755 tmpfs "$0" && (dd if=/dev/zero of="$0/filler" bs=4k 2>/dev/null; true) && exec "$@"',
    mnt, process.execPath, VIGIL, 'svscan', sd]);
  t.after(() => { bg.kill(); removeTree(root); });
  await waitListening(sd, bg, 10000);
  const inNs = path.join('/proc', String(bg.pid), 'root', mnt);
  assert.ok(fs.existsSync(path.join(inNs, 'filler')), 'the tmpfs is the scanner\'s');
  await waitFor(() => /vigil: warning: full: .*No space left on device/.test(bg.stderr()), 10000, 'the disk-full warning naming the service');
  const warn = bg.stderr().split('\n').find((l) => l.includes('No space left'))!;
  // the first write to fail is the spool's (the input's way into the logdir) or current's
  assert.match(warn, /^vigil: warning: full: unable to write to .*full\/(current|spool): No space left on device$/);
  // back-pressure: the writer cannot finish (500 kB do not fit in the cap + the pipe)
  const otherDir = path.join(root, 'logs', 'other');
  const ticks0 = lines(otherDir).length;
  await waitFor(() => lines(otherDir).length >= ticks0 + 10, 5000, 'the other service keeps logging while the disk is full');
  assert.ok(!fs.existsSync(path.join(sd, 'full', 'done')), 'the full service is held back (blocked in write), not read into memory without bound');
  const rss = Number(/VmRSS:\s+([0-9]+)/.exec(fs.readFileSync(`/proc/${bg.pid}/status`, 'utf8'))![1]);
  assert.ok(rss < 200 * 1024, `scanner RSS ${rss} kB`);
  // space returns
  fs.unlinkSync(path.join(inNs, 'filler'));
  const fullDir = path.join(inNs, 'full');
  await waitFor(() => lines(fullDir).length >= N, 20000, `all ${N} lines in full's logdir`, 100);
  await waitFor(() => fs.existsSync(path.join(sd, 'full', 'done')), 5000, 'the writer finished');
  const got = lines(fullDir);
  assert.equal(got.length, N);
  for (let i = 0; i < N; i++) if (got[i] !== line(String(1000001 + i))) assert.fail(`line ${i + 1}: ${got[i]}`);
  // other: contiguous ticks, nothing lost
  const ticks = lines(otherDir);
  ticks.forEach((l, i) => assert.equal(l, `@${l.slice(1, 25)} tick ${i + 1}`));
  bg.signal('SIGTERM');
  await Promise.race([bg.exited, sleep(15000)]);
  assert.ok(bg.hasExited(), 'scanner stopped');
});
