// vigil log as a process: rotation by size and by SIGALRM, processors, SIGTERM finishing the line, SIGKILL
// recovery (unclean current → @….u, as s6-log does), SIGKILL during a rotation, and a numbered stream that
// survives repeated SIGKILLs of the logger without gaps while a fifo holds the data.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ChildProcess } from 'node:child_process';
import { Kind, mkTmp, startLogger, waitExit, killQuietly, snapLogdir, numbered, collect } from './harness';
import { waitFor } from '../helpers/wait';

function readAll(dir: string): string {
  const names = fs.readdirSync(dir).filter((n) => /^@[0-9a-f]{24}\.[su]$/.test(n)).sort();
  return [...names, 'current'].map((n) => {
    try { return fs.readFileSync(path.join(dir, n), 'latin1'); } catch { return ''; }
  }).join('');
}

function archives(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => /^@[0-9a-f]{24}\.[su]$/.test(n)).sort();
}

async function ready(p: ChildProcess, what: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what}: no readiness on fd 3 within 10 s`)), 10000);
    const s = p.stdio[3] as NodeJS.ReadableStream;
    s.once('data', () => { clearTimeout(t); resolve(); });
    p.once('exit', (c) => { clearTimeout(t); reject(new Error(`${what} exited ${c} before readiness`)); });
  });
}

function start(kind: Kind, args: string[], cwd: string, stdin: 'pipe' | number = 'pipe'): ChildProcess {
  const { spawn } = require('node:child_process') as typeof import('node:child_process');
  const [cmd, argv] = kind === 's6' ? ['/usr/bin/s6-log', ['-d', '3', ...args]] : [process.execPath, [path.resolve(__dirname, '..', '..', '..', 'bin', 'vigil'), 'log', '-d', '3', ...args]];
  return spawn(cmd as string, argv as string[], { cwd, stdio: [stdin, 'pipe', 'pipe', 'pipe'] });
}

test('rotation by size keeps n archives of whole lines, and S trims by total size', { timeout: 30000 }, async (t) => {
  const tmp = mkTmp('vigil-logrot-');
  let p: ChildProcess | null = null;
  t.after(() => { killQuietly(p); fs.rmSync(tmp, { recursive: true, force: true }); });
  p = start('vigil', ['n4', 's4096', 'l0', './a', 'n100', 'S10000', 's4096', './b'], tmp);
  await ready(p, 'vigil log');
  const data = numbered(1, 1000);
  p.stdin!.end(data);
  const r = await waitExit(p, 15000, 'vigil log');
  assert.equal(r.code, 0);
  const a = path.join(tmp, 'a');
  assert.equal(archives(a).length, 4);
  for (const n of archives(a)) {
    const c = fs.readFileSync(path.join(a, n), 'latin1');
    assert.ok(c.endsWith('\n') && c.length >= 4096, `${n}: ${c.length} bytes, whole lines, at least s`);
    assert.equal((fs.statSync(path.join(a, n)).mode & 0o777).toString(8), '744');
  }
  assert.ok(data.endsWith(readAll(a)), 'a holds the newest lines, contiguous, in order');
  const b = path.join(tmp, 'b');
  const total = archives(b).reduce((s, n) => s + fs.statSync(path.join(b, n)).size, 0);
  assert.ok(total <= 10000, `S10000: archives total ${total}`);
  assert.ok(archives(b).length >= 1);
  assert.ok(data.endsWith(readAll(b)));
  assert.equal((fs.statSync(path.join(a, 'current')).mode & 0o777).toString(8), '744', 'clean close: current is 0744');
});

test('SIGALRM rotates a non-empty current (and not an empty one)', { timeout: 30000 }, async (t) => {
  const tmp = mkTmp('vigil-logalrm-');
  let p: ChildProcess | null = null;
  t.after(() => { killQuietly(p); fs.rmSync(tmp, { recursive: true, force: true }); });
  p = start('vigil', ['t', './d'], tmp);
  await ready(p, 'vigil log');
  const d = path.join(tmp, 'd');
  p.kill('SIGALRM');
  // an absence: nothing tells that the signal was handled, so give it a moment before looking
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(archives(d).length, 0, 'SIGALRM with an empty current made no archive');
  p.stdin!.write('before alarm\n');
  await waitFor(() => fs.readFileSync(path.join(d, 'current'), 'latin1').includes('before alarm'), 10000, 'line in current');
  p.kill('SIGALRM');
  const [arch] = await waitFor(() => { const a = archives(d); return a.length ? a : null; }, 10000, 'an archive after SIGALRM');
  assert.match(arch, /\.s$/);
  assert.match(fs.readFileSync(path.join(d, arch), 'latin1'), /^@[0-9a-f]{24} before alarm\n$/);
  assert.equal(fs.statSync(path.join(d, 'current')).size, 0);
  p.stdin!.end('after alarm\n');
  assert.equal((await waitExit(p, 10000, 'vigil log')).code, 0);
  assert.match(fs.readFileSync(path.join(d, 'current'), 'latin1'), /^@[0-9a-f]{24} after alarm\n$/);
});

test('processors: ? (sh) and ! (execlineb) run on previous, fd 4 = state, fd 5 = newstate; a failing one is retried', { timeout: 40000 }, async (t) => {
  const tmp = mkTmp('vigil-logproc-');
  let p: ChildProcess | null = null;
  t.after(() => { killQuietly(p); fs.rmSync(tmp, { recursive: true, force: true }); });
  fs.writeFileSync(path.join(tmp, 'fail-once'), '');
  p = start('vigil', [
    's4096', '?tr a-z A-Z; n=$(cat <&4); echo "runs:$n." >&5', './up',
    '!/bin/sh -c "wc -l"', './count',
    'r100', '?if [ -e ../fail-once ]; then rm ../fail-once; exit 3; fi; cat', './retry',
  ], tmp);
  await ready(p, 'vigil log');
  const err = collect(p.stderr);
  p.stdin!.write('hello one\nhello two\n');
  await waitFor(() => fs.readFileSync(path.join(tmp, 'up', 'current'), 'latin1').includes('two'), 10000, 'lines in up/current');
  p.kill('SIGALRM');
  const up = path.join(tmp, 'up');
  const [a1] = await waitFor(() => { const a = archives(up); return a.length ? a : null; }, 10000, 'processed archive in up');
  assert.equal(fs.readFileSync(path.join(up, a1), 'latin1'), 'HELLO ONE\nHELLO TWO\n');
  assert.equal((fs.statSync(path.join(up, a1)).mode & 0o777).toString(8), '744');
  assert.equal(fs.readFileSync(path.join(up, 'state'), 'latin1'), 'runs:.\n');
  const cnt = path.join(tmp, 'count');
  const [c1] = await waitFor(() => { const a = archives(cnt); return a.length ? a : null; }, 10000, 'processed archive in count');
  assert.equal(fs.readFileSync(path.join(cnt, c1), 'latin1').trim(), '2');
  const rt = path.join(tmp, 'retry');
  const [r1] = await waitFor(() => { const a = archives(rt); return a.length ? a : null; }, 10000, 'archive in retry after the processor failed once');
  assert.equal(fs.readFileSync(path.join(rt, r1), 'latin1'), 'hello one\nhello two\n');
  assert.match(err(), /processor failed in \.\/retry/);
  for (const f of ['previous', 'processed', 'newstate']) assert.ok(!fs.existsSync(path.join(up, f)), `${f} is gone after the rotation`);
  // second rotation: the processor sees the state the first one left
  p.stdin!.write('again\n');
  await waitFor(() => fs.readFileSync(path.join(up, 'current'), 'latin1').includes('again'), 10000, 'again in current');
  p.kill('SIGALRM');
  await waitFor(() => fs.readFileSync(path.join(up, 'state'), 'latin1') === 'runs:runs:..\n', 10000, 'state updated by the second run');
  p.stdin!.end();
  assert.equal((await waitExit(p, 10000, 'vigil log')).code, 0);
});

test('SIGTERM finishes the line being read, then exits; the rest stays in the pipe (as s6-log)', { timeout: 30000 }, async (t) => {
  const tmp = mkTmp('vigil-logterm-');
  const procs: ChildProcess[] = [];
  t.after(() => { procs.forEach(killQuietly); fs.rmSync(tmp, { recursive: true, force: true }); });
  const results: Record<string, string> = {};
  for (const kind of ['s6', 'vigil'] as Kind[]) {
    const cwd = path.join(tmp, kind);
    fs.mkdirSync(cwd);
    const p = start(kind, ['./d'], cwd);
    procs.push(p);
    await ready(p, kind);
    p.stdin!.on('error', () => { /* EPIPE once it has gone */ });
    p.stdin!.write('first\nabc');
    await waitFor(() => fs.readFileSync(path.join(cwd, 'd', 'current'), 'latin1') === 'first\n', 10000, `${kind}: first line`);
    p.kill('SIGTERM');
    // no event tells that the signal was handled: give it a moment before sending the end of the line
    await new Promise((r) => setTimeout(r, 1000));
    p.stdin!.write('def\nghi\n');
    const r = await waitExit(p, 10000, kind);
    assert.equal(r.code, 0, kind);
    results[kind] = fs.readFileSync(path.join(cwd, 'd', 'current'), 'latin1') + (fs.statSync(path.join(cwd, 'd', 'current')).mode & 0o777).toString(8);
  }
  assert.equal(results.s6, 'first\nabcdef\n744');
  assert.equal(results.vigil, results.s6);
});

test('SIGKILL mid-stream: the restart archives the unclean current as @….u, like s6-log', { timeout: 30000 }, async (t) => {
  const tmp = mkTmp('vigil-logkill-');
  const procs: ChildProcess[] = [];
  t.after(() => { procs.forEach(killQuietly); fs.rmSync(tmp, { recursive: true, force: true }); });
  const snaps: Record<string, unknown> = {};
  for (const kind of ['s6', 'vigil'] as Kind[]) {
    const cwd = path.join(tmp, kind);
    fs.mkdirSync(cwd);
    const p = start(kind, ['./d'], cwd);
    procs.push(p);
    await ready(p, kind);
    p.stdin!.write('one\ntwo\n');
    await waitFor(() => fs.readFileSync(path.join(cwd, 'd', 'current'), 'latin1') === 'one\ntwo\n', 10000, `${kind}: lines`);
    assert.equal((fs.statSync(path.join(cwd, 'd', 'current')).mode & 0o777).toString(8), '644', 'current is 0644 while open');
    p.kill('SIGKILL');
    await waitExit(p, 10000, kind);
    const q = start(kind, ['./d'], cwd);
    procs.push(q);
    await ready(q, `${kind} restarted`);
    q.stdin!.end('three\n');
    assert.equal((await waitExit(q, 10000, kind)).code, 0);
    snaps[kind] = snapLogdir(path.join(cwd, 'd'));
  }
  const v = snaps.vigil as Array<{ name: string; mode: string; content: string }>;
  assert.deepEqual(v.map((f) => [f.name, f.mode, f.content]), [
    ['@TAI64N.u', '644', 'one\ntwo\n'], ['current', '744', 'three\n'], ['lock', '644', ''], ['state', '644', ''],
  ]);
  assert.deepEqual(snaps.vigil, snaps.s6);
});

test('SIGKILL during a rotation (processor running): the restart leaves consistent archives, like s6-log', { timeout: 40000 }, async (t) => {
  const tmp = mkTmp('vigil-logkillrot-');
  const procs: ChildProcess[] = [];
  t.after(() => { procs.forEach(killQuietly); fs.rmSync(tmp, { recursive: true, force: true }); });
  const snaps: Record<string, unknown> = {};
  for (const kind of ['s6', 'vigil'] as Kind[]) {
    const cwd = path.join(tmp, kind);
    fs.mkdirSync(cwd);
    // the processor signals that it runs, then hangs: the logger is killed in WaitProcessor
    const p = start(kind, ['?cat; echo $$ > ../proc-running; exec sleep 30', './d'], cwd);
    procs.push(p);
    await ready(p, kind);
    p.stdin!.write('one\ntwo\n');
    await waitFor(() => fs.readFileSync(path.join(cwd, 'd', 'current'), 'latin1') === 'one\ntwo\n', 10000, `${kind}: lines`);
    p.kill('SIGALRM');
    const procPid = Number(await waitFor(() => fs.readFileSync(path.join(cwd, 'proc-running'), 'latin1').trim(), 10000, `${kind}: processor running`));
    p.kill('SIGKILL');
    await waitExit(p, 10000, kind);
    // the orphaned processor (sleep) is ours to clean, by its pid
    try { process.kill(procPid, 'SIGKILL'); } catch { /* gone */ }
    const names = fs.readdirSync(path.join(cwd, 'd')).sort();
    assert.ok(names.includes('previous') && names.includes('processed'), `${kind}: killed mid-rotation: ${names}`);
    let q = start(kind, ['./d'], cwd);
    procs.push(q);
    if (kind === 's6') {
      // s6-log 2.11.3.2 archives previous and current under the same cached stamp: link() gives EEXIST,
      // "unable to finish current .u ...: File exists", exit 111; a second start finishes the recovery.
      // vigil takes a fresh stamp per archive and recovers in one start.
      const errText = collect(q.stderr);
      const r = await waitExit(q, 10000, 's6-log restart');
      assert.equal(r.code, 111);
      assert.match(errText(), /unable to finish current \.u for logdir \.\/d: File exists/);
      q = start(kind, ['./d'], cwd);
      procs.push(q);
    }
    await ready(q, `${kind} restarted`);
    q.stdin!.end('after\n');
    assert.equal((await waitExit(q, 10000, kind)).code, 0);
    snaps[kind] = snapLogdir(path.join(cwd, 'd'));
  }
  const v = snaps.vigil as Array<{ name: string; mode: string; content: string }>;
  // previous (0744) → .u with the lines, the empty new current → .u; processed (not u+x) removed
  assert.deepEqual(v.map((f) => [f.name, f.mode, f.content]), [
    ['@TAI64N.u', '744', 'one\ntwo\n'], ['@TAI64N.u', '644', ''], ['current', '744', 'after\n'], ['lock', '644', ''], ['state', '644', ''],
  ]);
  assert.deepEqual(snaps.vigil, snaps.s6);
});

test('a numbered stream held in a fifo survives 20 SIGKILLs of vigil log: no gap, no duplicate, in order', { timeout: 60000 }, async (t) => {
  // What is checked: data the logger has written is never lost or repeated across SIGKILL + restart
  // (current → @….u), and lines written while no logger runs wait in the fifo. What is NOT claimed: bytes
  // taken from the pipe by read() and killed before write() (≤ one 8191-byte read) — the same window as
  // s6-log, so the kill comes once the logger has caught up with the writer.
  const tmp = mkTmp('vigil-logkill20-');
  let p: ChildProcess | null = null;
  let stop = false;
  let paused = false;
  const fifo = path.join(tmp, 'fifo');
  const { execFileSync } = require('node:child_process') as typeof import('node:child_process');
  execFileSync('mkfifo', [fifo]);
  // the test holds both ends, as the scanner does: the logger's death never loses what is in the pipe
  const holder = fs.openSync(fifo, fs.constants.O_RDWR);
  const writer = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  t.after(() => { stop = true; killQuietly(p); fs.closeSync(writer); fs.closeSync(holder); fs.rmSync(tmp, { recursive: true, force: true }); });
  let seq = 0;
  const writeLoop = (async () => {
    while (!stop) {
      if (paused) { await new Promise((r) => setTimeout(r, 2)); continue; }
      const line = Buffer.from(`seq ${String(++seq).padStart(7, '0')} ${'z'.repeat(seq % 50)}\n`);
      for (;;) {
        try { fs.writeSync(writer, line); break; } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
          await new Promise((r) => setTimeout(r, 5));
        }
      }
      if (seq % 10 === 0) await new Promise((r) => setTimeout(r, 1));
    }
  })();
  const d = path.join(tmp, 'd');
  const logged = (n: number): boolean => readAll(d).includes(`seq ${String(n).padStart(7, '0')} `);
  for (let k = 0; k < 20; k++) {
    p = start('vigil', ['s8192', 'n1000', './d'], tmp, holder);
    await ready(p, `vigil log #${k}`);
    const seen = seq;
    await waitFor(() => seq > seen + 150, 10000, 'the writer to go on');
    paused = true;
    const upTo = seq;
    await waitFor(() => logged(upTo), 10000, `#${k}: line ${upTo} logged`);
    p.kill('SIGKILL');
    await waitExit(p, 10000, `vigil log #${k}`);
    paused = false; // lines now queue in the fifo while no logger runs
    await waitFor(() => seq > upTo + 50, 10000, 'the writer to write while no logger runs');
  }
  stop = true;
  await writeLoop;
  const last = seq;
  p = start('vigil', ['s8192', 'n1000', './d'], tmp, holder);
  await ready(p, 'vigil log (final)');
  await waitFor(() => logged(last), 20000, `line ${last} logged`);
  p.kill('SIGTERM');
  await waitExit(p, 10000, 'vigil log (final)');
  const lines = readAll(d).split('\n').filter((l) => l !== '');
  const nums = lines.map((l) => Number(/^seq (\d+) /.exec(l)?.[1] ?? NaN));
  const problems: string[] = [];
  nums.forEach((n, i) => { if (n !== i + 1) problems.push(`line ${i + 1} is ${JSON.stringify(lines[i].slice(0, 20))}`); });
  assert.deepEqual(problems.slice(0, 5), [], `expected 1..${last} in order`);
  assert.equal(nums.length, last);
  // each kill leaves its current as a .u archive, and one that lands during a rotation its previous too (seen
  // beside a CPU hog: 21); what matters, every line once and in order, is checked above
  const unclean = archives(d).filter((n) => n.endsWith('.u')).length;
  assert.ok(unclean >= 20 && unclean <= 40, `each kill left its current (and at most its previous) as a .u archive: ${unclean}`);
});

test('-p: SIGTERM is ignored, SIGHUP ends it (after the half-read line)', { timeout: 30000 }, async (t) => {
  const tmp = mkTmp('vigil-logp-');
  let p: ChildProcess | null = null;
  t.after(() => { killQuietly(p); fs.rmSync(tmp, { recursive: true, force: true }); });
  p = start('vigil', ['-p', './d'], tmp);
  await ready(p, 'vigil log -p');
  const cur = path.join(tmp, 'd', 'current');
  p.stdin!.write('one\n');
  await waitFor(() => fs.readFileSync(cur, 'latin1') === 'one\n', 10000, 'one');
  p.kill('SIGTERM');
  // an absence: give the signal a moment, then check that it is still reading
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(p.exitCode, null, 'SIGTERM ignored with -p');
  p.stdin!.write('two\nthr');
  await waitFor(() => fs.readFileSync(cur, 'latin1') === 'one\ntwo\n', 10000, 'two');
  p.kill('SIGHUP');
  await new Promise((r) => setTimeout(r, 1000));
  p.stdin!.on('error', () => { /* EPIPE once it has gone */ });
  p.stdin!.write('ee\nfour\n');
  assert.equal((await waitExit(p, 10000, 'vigil log -p')).code, 0);
  assert.equal(fs.readFileSync(cur, 'latin1'), 'one\ntwo\nthree\n');
});

test('start-up recovery of a finished processor (processed u+x → .s, previous dropped) and append to a clean current, like s6-log', { timeout: 30000 }, () => {
  const { runWithFile } = require('./harness') as typeof import('./harness');
  const tmp = mkTmp('vigil-logrecover-');
  try {
    const snaps: Record<string, unknown> = {};
    for (const kind of ['s6', 'vigil'] as Kind[]) {
      const cwd = path.join(tmp, kind);
      const d = path.join(cwd, 'd');
      fs.mkdirSync(d, { recursive: true });
      fs.writeFileSync(path.join(d, 'current'), 'cur\n', { mode: 0o644 });
      fs.writeFileSync(path.join(d, 'previous'), 'prev\n');
      fs.writeFileSync(path.join(d, 'processed'), 'PROC\n');
      fs.chmodSync(path.join(d, 'processed'), 0o744);
      fs.writeFileSync(path.join(d, 'newstate'), 'ns\n');
      fs.writeFileSync(path.join(d, 'state'), 'st\n');
      assert.equal(runWithFile(kind, ['./d'], Buffer.from('new\n'), cwd).status, 0);
      // current now has u+x: the next start appends to it
      assert.equal(runWithFile(kind, ['./d'], Buffer.from('new2\n'), cwd).status, 0);
      snaps[kind] = snapLogdir(d);
    }
    const v = snaps.vigil as Array<{ name: string; mode: string; content: string }>;
    assert.deepEqual(v.map((f) => [f.name, f.mode, f.content]), [
      ['@TAI64N.s', '744', 'PROC\n'], ['@TAI64N.u', '644', 'cur\n'], ['current', '744', 'new\nnew2\n'], ['lock', '644', ''], ['state', '644', ''],
    ]);
    assert.deepEqual(snaps.vigil, snaps.s6);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
