// `vigil logs`: archives in name order then current, TAI64N stamps shown as local time, -n, --grep,
// --since, finding the logdir of a service directory, and -f following current across a rotation.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { mkTmp, VIGIL, killQuietly, waitExit, collect } from './harness';
import { waitFor } from '../helpers/wait';
import { tainFromUnixMs, tainLabel } from '../../src/formats/tai64n';
import { localIso } from '../../src/logger/reader';

function logs(args: string[], env: NodeJS.ProcessEnv = process.env): { status: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [VIGIL, 'logs', ...args], { encoding: 'latin1', timeout: 20000, env });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

/** A logdir written by hand: 3 archives and a current, each line stamped one minute apart. */
function makeLogdir(dir: string, base: number): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const lines: string[] = [];
  let k = 0;
  const files = ['a', 'b', 'c', 'current'];
  files.forEach((f, fi) => {
    let body = '';
    for (let i = 0; i < 4; i++, k++) {
      const ms = base + k * 60000;
      body += `${tainLabel(tainFromUnixMs(ms))} line ${k} ${i % 2 ? 'even' : 'odd'}\n`;
      lines.push(`${localIso(BigInt(ms) * 1000000n)} line ${k} ${i % 2 ? 'even' : 'odd'}`);
    }
    body += fi === 1 ? 'unstamped line\n' : '';
    if (fi === 1) lines.push('unstamped line');
    // archive names: the rotation time, after the file's last line
    const name = f === 'current' ? 'current' : `${tainLabel(tainFromUnixMs(base + k * 60000 - 1))}.s`;
    fs.writeFileSync(path.join(dir, name), body);
  });
  fs.writeFileSync(path.join(dir, 'lock'), '');
  return lines;
}

test('vigil logs: archives in order then current, stamps as local time, -n, --grep, --since', { timeout: 60000 }, (t) => {
  const tmp = mkTmp('vigil-logs-');
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const base = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
  const d = path.join(tmp, 'logdir');
  const lines = makeLogdir(d, base);
  // a stray file and a malformed archive name are not read
  fs.writeFileSync(path.join(d, '@nothex.s'), 'nope\n');
  fs.writeFileSync(path.join(d, 'state'), 'nope\n');
  let r = logs([d]);
  assert.equal(r.status, 0, r.err);
  assert.equal(r.out, lines.map((l) => l + '\n').join(''));
  r = logs([d, '-n', '3']);
  assert.equal(r.out, lines.slice(-3).map((l) => l + '\n').join(''));
  r = logs(['-n', '6', d]);
  assert.equal(r.out, lines.slice(-6).map((l) => l + '\n').join(''));
  r = logs([d, '--grep', 'even$']);
  assert.equal(r.out, lines.filter((l) => /even$/.test(l)).map((l) => l + '\n').join(''));
  r = logs([d, '--grep', 'odd', '-n', '2']);
  assert.equal(r.out, lines.filter((l) => /odd/.test(l)).slice(-2).map((l) => l + '\n').join(''));
  // --since: local ISO time of line 9 (in archive c): lines 9.. and nothing from a and b
  const since = new Date(base + 9 * 60000);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const iso = `${since.getFullYear()}-${p2(since.getMonth() + 1)}-${p2(since.getDate())} ${p2(since.getHours())}:${p2(since.getMinutes())}:${p2(since.getSeconds())}.${String(since.getMilliseconds()).padStart(3, '0')}`;
  r = logs([d, '--since', iso]);
  assert.equal(r.status, 0, r.err);
  assert.equal(r.out, lines.filter((l) => /line (9|1[0-5]) /.test(l)).map((l) => l + '\n').join(''));
  r = logs([d, '--since', '10m']);
  assert.equal(r.out, '', 'everything is older than 10 minutes');
  r = logs([d, '--since', 'yesterday']);
  assert.equal(r.status, 100);
  assert.match(r.err, /invalid time: yesterday/);
  r = logs([path.join(tmp, 'nothing-here')]);
  assert.equal(r.status, 111);
  assert.match(r.err, /no such service or logdir/);
});

test('vigil logs SERVICE: the log-dir declaration, log/run with s6-log, and a name in $VIGIL_SCANDIR', { timeout: 30000 }, (t) => {
  const tmp = mkTmp('vigil-logs-svc-');
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const scan = path.join(tmp, 'scan');
  // in-supervisor declaration
  fs.mkdirSync(path.join(scan, 'web'), { recursive: true });
  fs.writeFileSync(path.join(scan, 'web', 'log-dir'), '../../logs/web\n');
  fs.mkdirSync(path.join(tmp, 'logs', 'web'), { recursive: true });
  fs.writeFileSync(path.join(tmp, 'logs', 'web', 'current'), 'from web\n');
  // an external logger in log/run
  fs.mkdirSync(path.join(scan, 'db', 'log'), { recursive: true });
  fs.writeFileSync(path.join(scan, 'db', 'log', 'run'), '#!/bin/sh\nexec s6-log -b n20 s1000000 t ./main\n');
  fs.mkdirSync(path.join(scan, 'db', 'log', 'main'));
  fs.writeFileSync(path.join(scan, 'db', 'log', 'main', 'current'), 'from db\n');
  fs.mkdirSync(path.join(scan, 'plain'));
  assert.equal(logs([path.join(scan, 'web')]).out, 'from web\n');
  assert.equal(logs([path.join(scan, 'db')]).out, 'from db\n');
  assert.equal(logs(['db'], { ...process.env, VIGIL_SCANDIR: scan }).out, 'from db\n');
  const r = logs([path.join(scan, 'plain')]);
  assert.equal(r.status, 111);
  assert.match(r.err, /cannot find its logdir/);
});

test('vigil logs -f follows current across rotations (inotify, no line lost or repeated)', { timeout: 60000 }, async (t) => {
  const tmp = mkTmp('vigil-logs-f-');
  let logger: ChildProcess | null = null;
  let follower: ChildProcess | null = null;
  t.after(() => { killQuietly(logger); killQuietly(follower); fs.rmSync(tmp, { recursive: true, force: true }); });
  logger = spawn(process.execPath, [VIGIL, 'log', '-d', '3', 's4096', 'n100', './d'], { cwd: tmp, stdio: ['pipe', 'ignore', 'inherit', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    const to = setTimeout(() => reject(new Error('logger not ready')), 10000);
    (logger!.stdio[3] as NodeJS.ReadableStream).once('data', () => { clearTimeout(to); resolve(); });
  });
  const d = path.join(tmp, 'd');
  let all = '';
  for (let i = 0; i < 20; i++) all += `early ${i}\n`;
  logger.stdin!.write(all);
  await waitFor(() => fs.readFileSync(path.join(d, 'current'), 'latin1').includes('early 19'), 10000, 'early lines');
  follower = spawn(process.execPath, [VIGIL, 'logs', '-f', '-n', '5', d], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = collect(follower.stdout);
  const ferr = collect(follower.stderr);
  await waitFor(() => out().includes('early 19'), 10000, `the follower's first lines (stderr: ${ferr()})`);
  // enough lines for several size rotations, written in bursts, plus a SIGALRM rotation
  let later = '';
  for (let b = 0; b < 10; b++) {
    let chunk = '';
    for (let i = 0; i < 40; i++) chunk += `later ${b * 40 + i} ${'w'.repeat(40)}\n`;
    later += chunk;
    logger.stdin!.write(chunk);
    await new Promise((r) => setTimeout(r, 20));
  }
  await waitFor(() => out().includes('later 399 '), 15000, 'the follower to see the last line');
  logger.kill('SIGALRM');
  logger.stdin!.write('after alarm\n');
  await waitFor(() => out().includes('after alarm'), 15000, 'the line after the SIGALRM rotation');
  const rotations = fs.readdirSync(d).filter((n) => n.endsWith('.s')).length;
  assert.ok(rotations >= 4, `rotations happened: ${rotations}`);
  const expected = all.split('\n').slice(15, 20).map((l) => l + '\n').join('') + later + 'after alarm\n';
  assert.equal(out(), expected);
  follower.kill('SIGTERM');
  assert.equal((await waitExit(follower, 10000, 'vigil logs -f')).code, 0);
  logger.stdin!.end();
  assert.equal((await waitExit(logger, 10000, 'vigil log')).code, 0);
});

test('vigil logs --since also reads T (local ISO) stamps', { timeout: 30000 }, (t) => {
  const tmp = mkTmp('vigil-logs-iso-');
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const d = path.join(tmp, 'd');
  fs.mkdirSync(d);
  const old = localIso(BigInt(Date.now() - 3600000) * 1000000n);
  const recent = localIso(BigInt(Date.now() - 60000) * 1000000n);
  fs.writeFileSync(path.join(d, 'current'), `${old}  old line\n${recent}  recent line\nno stamp\n`);
  const r = logs([d, '--since', '10m']);
  assert.equal(r.status, 0, r.err);
  assert.equal(r.out, `${recent}  recent line\nno stamp\n`);
});
