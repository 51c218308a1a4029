// In-supervisor logging through `vigil svscan` (src/scanner/inlog.ts): a service with log-dir is logged by the
// scanner process itself. Real scanner, real services, real SIGKILLs; every wait bounded.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { makeTree, tmpdir, removeTree } from '../helpers/scandir';
import { startVigilSvscan, startBg, waitListening, vigil, VIGIL, Bg } from '../helpers/svscan';
import { waitFor, waitUp, sleep } from '../helpers/wait';

/** archives (name order) then current, concatenated */
function readLogdir(dir: string): string {
  const names = fs.readdirSync(dir).filter((n) => /^@[0-9a-f]{24}\.[su]$/.test(n)).sort();
  names.push('current');
  return names.map((n) => { try { return fs.readFileSync(path.join(dir, n), 'latin1'); } catch { return ''; } }).join('');
}

const unstamp = (l: string) => l.replace(/^@[0-9a-f]{24} /, '');

function logLines(dir: string): string[] {
  const t = readLogdir(dir);
  return t.split('\n').filter((l) => l !== '').map(unstamp);
}

async function stopScanner(sv: Bg, ms = 15000): Promise<void> {
  sv.signal('SIGTERM');
  const r = await Promise.race([sv.exited, sleep(ms).then(() => null)]);
  if (r === null) throw new Error(`scanner did not stop within ${ms} ms; stderr: ${sv.stderr()}`);
}

// A writer that cannot itself lose or repeat a line silently: run R writes "rR k" for k = 1, 2, ... and appends
// k to cnt.R after each write. A SIGKILL between the two leaves the log with one line more than cnt.R says.
const NUMBERED_RUN = `#!/bin/sh
R=$(( $(cat runs 2>/dev/null || echo 0) + 1 ))
echo $R > runs
k=0
while :; do k=$((k+1)); echo "r$R $k"; echo $k >> cnt.$R; done
`;

test('numbered stream through in-supervisor logging, service SIGKILLed 20 times: no gaps, no duplicates', { timeout: 90000 }, async (t) => {
  const root = tmpdir('vigil-inlog-');
  const sd = path.join(root, 'sd');
  const svc = path.join(sd, 'num');
  makeTree({ 'num/run!': NUMBERED_RUN, 'num/log-dir': '../../logs/num\n', 'num/log-script': 't\ns100000\nn1000\n' }, sd);
  const sv = await startVigilSvscan(sd);
  t.after(() => { sv.kill(); removeTree(root); });
  let pid = 0;
  const runsNow = () => { try { return Number(fs.readFileSync(path.join(svc, 'runs'), 'utf8')); } catch { return 0; } };
  for (let i = 0; i < 20; i++) {
    const st = await waitUp(svc, 8000, pid);
    pid = st.pid;
    const runs = await waitFor(() => runsNow() === i + 1 && runsNow(), 5000, `run ${i + 1} started`);
    await waitFor(() => fs.existsSync(path.join(svc, `cnt.${runs}`)), 5000, `run ${runs} writing`);
    await sleep(20 + Math.floor(Math.random() * 150));
    process.kill(pid, 'SIGKILL');
  }
  await waitUp(svc, 8000, pid);
  await sleep(200);
  await stopScanner(sv);
  assert.equal(sv.stderr(), '', 'no warning');
  const logdir = path.join(root, 'logs', 'num');
  assert.ok(fs.readdirSync(logdir).some((n) => n.endsWith('.s')), 'rotations happened while the service was killed');
  const byRun = new Map<number, number[]>();
  for (const l of logLines(logdir)) {
    const m = /^r([0-9]+) ([0-9]+)$/.exec(l);
    assert.ok(m, `unexpected line ${JSON.stringify(l)}`);
    const list = byRun.get(Number(m[1])) ?? [];
    list.push(Number(m[2]));
    byRun.set(Number(m[1]), list);
  }
  const runs = Number(fs.readFileSync(path.join(svc, 'runs'), 'utf8'));
  assert.ok(runs >= 21, `21 runs (got ${runs})`);
  let total = 0;
  for (let r = 1; r <= runs; r++) {
    const ks = byRun.get(r) ?? [];
    for (let i = 0; i < ks.length; i++) assert.equal(ks[i], i + 1, `run ${r}: line ${i + 1} is k=${ks[i]} (gap or duplicate)`);
    const cnt = fs.readFileSync(path.join(svc, `cnt.${r}`), 'utf8').trim().split('\n');
    const rec = Number(cnt[cnt.length - 1]);
    assert.ok(ks.length === rec || ks.length === rec + 1, `run ${r}: ${ks.length} lines logged, the writer recorded ${rec}`);
    total += ks.length;
  }
  assert.ok(total > 100, `some volume went through (${total} lines)`);

  // vigil logs SERVICE reads the in-supervisor logdir (through log-dir), archives then current, local times
  const r = await vigil(['logs', svc], 20000);
  assert.equal(r.code, 0, r.stderr);
  const shown = r.stdout.split('\n').filter((l) => l !== '');
  assert.equal(shown.length, total, 'vigil logs shows every line');
  assert.match(shown[0], /^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9:.]+ +r1 1$/);
  assert.match(shown[shown.length - 1], new RegExp(`r${runs} [0-9]+$`));
  const tail = await vigil(['logs', svc, '-n', '3'], 20000);
  assert.equal(tail.stdout.split('\n').filter((l) => l).length, 3);
});

test('bad declarations: one line naming the service, it runs unlogged, the others are not disturbed', { timeout: 30000 }, async (t) => {
  const root = tmpdir('vigil-inlog-');
  const sd = path.join(root, 'sd');
  const say = (w: string) => `#!/bin/sh\necho ${w}-out\nexec sleep 100000\n`;
  fs.writeFileSync(path.join(root, 'afile'), 'not a dir\n');
  makeTree({
    'empty/run!': say('empty'), 'empty/log-dir': '\n',
    'unwritable/run!': say('unwritable'), 'unwritable/log-dir': '../../afile/logs\n',
    'badscript/run!': say('badscript'), 'badscript/log-dir': '../../logs/bs\n', 'badscript/log-script': 't\nxyz\n',
    'both/run!': say('both'), 'both/log-dir': '../../logs/both\n', 'both/log/run!': '#!/bin/sh\nexec cat > ../../../both-ext.txt\n',
    'good/run!': say('good'), 'good/log-dir': '../../logs/good\n',
  }, sd);
  const sv = await startVigilSvscan(sd);
  t.after(() => { sv.kill(); removeTree(root); });
  await waitFor(() => logLines(path.join(root, 'logs', 'good')).includes('good-out'), 8000, 'the good service logged');
  for (const w of ['empty', 'unwritable', 'badscript']) {
    await waitFor(() => sv.stdout().includes(`${w}-out\n`), 8000, `${w}'s output on the scanner's stdout (unlogged)`);
  }
  await waitFor(() => fs.existsSync(path.join(root, 'both-ext.txt')) && fs.readFileSync(path.join(root, 'both-ext.txt'), 'utf8') === 'both-out\n', 8000, 'both/ logged through log/');
  const lines = sv.stderr().split('\n').filter((l) => l !== '');
  const one = (name: string, re: RegExp) => {
    const mine = lines.filter((l) => l.startsWith(`vigil: warning: ${name}: `));
    assert.equal(mine.length, 1, `one line for ${name}: ${JSON.stringify(lines)}`);
    assert.match(mine[0], re);
  };
  one('empty', /log-dir is empty - running it unlogged$/);
  one('unwritable', /afile\/logs.*(ENOTDIR|Not a directory|not a directory).* - running it unlogged$/);
  one('badscript', /log-script: .*xyz.* - running it unlogged$/);
  one('both', /both log\/ and log-dir: log\/ is used/);
  assert.equal(lines.length, 4, `nothing else on stderr: ${JSON.stringify(lines)}`);
  assert.ok(!fs.existsSync(path.join(root, 'logs', 'both')), 'log-dir ignored when log/ exists');
  assert.ok(!sv.stdout().includes('good-out'), 'the logged service is not on stdout');
  await stopScanner(sv);
});

test('scanner stop: the service goes down first, then every line it wrote (even while dying) lands', { timeout: 30000 }, async (t) => {
  const root = tmpdir('vigil-inlog-');
  const sd = path.join(root, 'sd');
  // on TERM it kills its sleep (which would otherwise outlive it, holding the test's stderr pipe open) and
  // writes 20 000 more lines (≈ 250 kB: more than the pipe holds) before exiting. `started` comes once $p is
  // set: a TERM between the two (the test stops the scanner as soon as `started` is logged) gave
  // "kill: Usage" on stderr beside a CPU hog
  const run = `#!/bin/sh
trap 'kill $p; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); echo "last $i"; done; exit 0' TERM
sleep 100000 & p=$!
echo started
wait $p
`;
  makeTree({ 'dying/run!': run, 'dying/log-dir': '../../logs/dying\n', 'dying/log-script': '-b\nn1000\ns1000000\n' }, sd);
  const sv = await startVigilSvscan(sd);
  t.after(() => { sv.kill(); removeTree(root); });
  const logdir = path.join(root, 'logs', 'dying');
  await waitFor(() => logLines(logdir).includes('started'), 8000, 'started logged');
  await stopScanner(sv);
  const ls = logLines(logdir);
  assert.equal(ls[0], 'started');
  assert.equal(ls.length, 20001, `every line landed (${ls.length})`);
  for (let i = 1; i <= 20000; i++) if (ls[i] !== `last ${i}`) assert.fail(`line ${i}: ${ls[i]}`);
  const mode = fs.statSync(path.join(logdir, 'current')).mode & 0o777;
  assert.equal(mode, 0o744, 'current closed cleanly (u+x)');
  assert.equal(sv.stderr(), '');
});

test('-L copies every logged line to stdout as "[name] line"; a stalled stdout drops copies (counted), never logdir lines', { timeout: 45000 }, async (t) => {
  const root = tmpdir('vigil-inlog-');
  const sd = path.join(root, 'sd');
  const N = 20000;
  makeTree({
    'a/run!': '#!/bin/sh\ni=0; while [ $i -lt 100 ]; do i=$((i+1)); echo "x$i"; done\nexec sleep 100000\n',
    'a/log-dir': '../../logs/a\n',
    'plain/run!': '#!/bin/sh\necho plain-out\nexec sleep 100000\n',
    'big/down': '',
    'big/run!': `#!/bin/sh\ni=0; while [ $i -lt ${N} ]; do i=$((i+1)); echo "big line $i ${'p'.repeat(80)}"; done\nexec sleep 100000\n`,
    'big/log-dir': '../../logs/big\n', 'big/log-script': 'n1000\ns1000000\n',
  }, sd);
  // stdout is a fifo this test reads only when it wants to (64 KiB of pipe buffer, then the scanner's writes
  // get EAGAIN)
  const fifo = path.join(root, 'stdout.fifo');
  execFileSync('mkfifo', [fifo]);
  const rd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const wr = fs.openSync(fifo, fs.constants.O_WRONLY);
  const sv = startBg(process.execPath, [VIGIL, 'svscan', '-L', sd], { stdio: ['ignore', wr, 'pipe'] });
  t.after(() => { sv.kill(); fs.closeSync(rd); removeTree(root); });
  fs.closeSync(wr);
  await waitListening(sd, sv);
  let out = '';
  const buf = Buffer.alloc(65536);
  const readOut = () => {
    for (;;) {
      let n = 0;
      try { n = fs.readSync(rd, buf, 0, buf.length, null); } catch (e) { if ((e as NodeJS.ErrnoException).code === 'EAGAIN') return out; throw e; }
      if (n === 0) return out;
      out += buf.toString('latin1', 0, n);
    }
  };
  await waitFor(() => { readOut(); return out.includes('[a] x100\n') && out.includes('plain-out\n'); }, 8000, 'copies of a and plain output');
  const aCopies = out.split('\n').filter((l) => l.startsWith('[a] '));
  assert.deepEqual(aCopies, Array.from({ length: 100 }, (_, i) => `[a] x${i + 1}`), 'copies without stamps, in order');
  assert.ok(!out.includes('[plain]'), 'an unlogged service is not prefixed');
  // now stdout stalls (nobody reads the fifo) while the big writer runs
  out = '';
  const r = await vigil(['svc', '-u', path.join(sd, 'big')]);
  assert.equal(r.code, 0, r.stderr);
  const bigDir = path.join(root, 'logs', 'big');
  await waitFor(() => logLines(bigDir).length === N, 20000, `all ${N} lines in big's logdir`, 100);
  const ls = logLines(bigDir);
  for (let i = 0; i < N; i++) if (!ls[i].startsWith(`big line ${i + 1} `)) assert.fail(`logdir line ${i + 1}: ${ls[i]}`);
  // the loop is not blocked: the scanner still answers (svok through the control fifo)
  const ok = await vigil(['svscanctl', '-a', sd]);
  assert.equal(ok.code, 0, ok.stderr);
  // resume stdout: the copies that fitted, then the drop report
  const rep = await waitFor(() => /\[vigil\] ([0-9]+) lines were not copied here/.exec(readOut()), 15000, 'the drop report on stdout');
  const dropped = Number(rep[1]);
  const copied = out.split('\n').filter((l) => l.startsWith('[big] big line ')).length;
  assert.ok(dropped > 0, 'some copies were dropped (stdout stalled)');
  assert.equal(copied + dropped, N, `copied ${copied} + dropped ${dropped} = ${N}`);
  await waitFor(() => sv.stderr().includes(`vigil: warning: ${dropped} log lines were not copied to stdout`), 5000, `the drop warning on stderr (got ${JSON.stringify(sv.stderr())})`);
  sv.signal('SIGTERM');
  await Promise.race([sv.exited, sleep(15000)]);
  assert.ok(sv.hasExited(), 'scanner stopped');
});


test('SIGUSR1 rotates in-supervisor logdirs (SIGALRM keeps s6\'s meaning: scan); with .s6-svscan/SIGUSR1 the script runs instead', { timeout: 30000 }, async (t) => {
  const root = tmpdir('vigil-inlog-');
  const sd = path.join(root, 'sd');
  makeTree({ 'r/run!': '#!/bin/sh\necho one\nexec sleep 100000\n', 'r/log-dir': '../../logs/r\n' }, sd);
  const sv = await startVigilSvscan(sd);
  t.after(() => { sv.kill(); removeTree(root); });
  const ld = path.join(root, 'logs', 'r');
  const archives = () => fs.readdirSync(ld).filter((n) => /^@[0-9a-f]{24}\.s$/.test(n));
  await waitFor(() => logLines(ld).includes('one'), 8000, 'first line logged');
  assert.equal(archives().length, 0);
  sv.signal('SIGALRM');
  makeTree({ 'late/run!': '#!/bin/sh\nexec sleep 100000\n' }, sd);
  sv.signal('SIGALRM');
  await waitFor(() => fs.existsSync(path.join(sd, 'late', 'supervise', 'status')), 5000, 'SIGALRM scanned (late service started)');
  assert.equal(archives().length, 0, 'SIGALRM does not rotate');
  sv.signal('SIGUSR1');
  await waitFor(() => archives().length === 1, 5000, 'an archive after SIGUSR1');
  assert.equal(fs.readFileSync(path.join(ld, archives()[0]), 'latin1').replace(/^@[0-9a-f]{24} /, ''), 'one\n');
  assert.equal(fs.statSync(path.join(ld, 'current')).size, 0);
  // a .s6-svscan/SIGUSR1 script takes precedence (s6 semantics)
  fs.writeFileSync(path.join(sd, '.s6-svscan', 'SIGUSR1'), `#!/bin/sh\ntouch '${root}/usr1-ran'\n`, { mode: 0o755 });
  sv.signal('SIGUSR1');
  await waitFor(() => fs.existsSync(path.join(root, 'usr1-ran')), 5000, 'the SIGUSR1 script ran');
  assert.equal(archives().length, 1, 'no rotation when the script exists (and current was empty anyway)');
  assert.equal(sv.stderr(), '');
  await stopScanner(sv);
});
