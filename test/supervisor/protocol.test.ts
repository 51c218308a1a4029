// s6-supervise semantics of vigil's in-process supervisor, judged by Debian's s6 client tools
// (s6-svc, s6-svstat, s6-svwait, s6-svok, s6-svdt, s6-ftrig-listen1) against `vigil svscan`.
// s6-protocol.md §11 ideas 1, 4-11, 18.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTree, removeTree, SLEEP_RUN } from '../helpers/scandir';
import { startVigilSvscan, tool, Bg } from '../helpers/svscan';
import { waitFor, waitUp, waitDown, waitStatus, statusOf, recordEvents, sleep } from '../helpers/wait';
import { TAI_OFFSET } from '../../src/formats/tai64n';

let sd = '';
let sv: Bg;
const svc = (name: string) => path.join(sd, name);

before(async () => {
  sd = makeTree({
    'sleeper/run!': SLEEP_RUN,
    // idea 4: argv, cwd, session of run; finish's arguments
    'args/run!': '#!/bin/sh\necho "$# $*" > argv\npwd > cwd\ncut -d" " -f5,6 /proc/$$/stat > ids\necho $$ >> ids\nexec sleep 1000000\n',
    'args/finish!': '#!/bin/sh\necho "$@" >> finish-args\n',
    'exit7/run!': '#!/bin/sh\nexit 7\n',
    'exit7/finish!': '#!/bin/sh\necho "$@" >> finish-args\n',
    'exit7/down': '',
    // idea 5: permanent failure
    'perm/run!': '#!/bin/sh\nsleep 0.3\nexit 1\n',
    'perm/finish!': '#!/bin/sh\nexit 125\n',
    'perm/notification-fd': '3\n',
    'perm/down': '',
    // idea 6: throttle
    'crash/run!': '#!/bin/sh\ndate +%s.%N >> starts\nexit 1\n',
    'crash/down': '',
    'readydie/run!': '#!/bin/sh\ndate +%s.%N >> starts\necho >&3\nexec sleep 2\n',
    'readydie/notification-fd': '3\n',
    'readydie/down': '',
    // idea 7: readiness
    'ready/run!': '#!/bin/sh\nprintf junk >&3\nsleep 0.5\necho >&3\nsleep 0.3\n(echo again >&3) 2>/dev/null; echo "rc=$?" > after\nexec sleep 1000000\n',
    'ready/notification-fd': '3\n',
    'ready/down': '',
    // idea 8: kill timing
    'stubborn/run!': '#!/bin/sh\ntrap "echo usr1 >> got" USR1\nwhile :; do sleep 0.1; done\n',
    'stubborn/down-signal': 'SIGUSR1\n',
    'stubborn/timeout-kill': '1000\n',
    'stubborn2/run!': '#!/bin/sh\ntrap "" USR1\nwhile :; do sleep 0.1; done\n',
    'stubborn2/down-signal': 'USR1\n',
    // idea 9: letters
    'letters/run!': SLEEP_RUN,
    'once/run!': '#!/bin/sh\necho ran >> ran\nexec sleep 0.2\n',
    'once/down': '',
    // idea 10/11
    'events/run!': SLEEP_RUN,
    'tally/run!': '#!/bin/sh\nexit 3\n',
    'tally/max-death-tally': '3\n',
    'tally/down': '',
    // lock-fd: the documented meaning (the service holds a write lock on supervise/service-lock on fd N)
    'locked/run!': '#!/bin/sh\nreadlink /proc/$$/fd/4 > fd4\ncat /proc/locks > locks\nstat -c %i supervise/service-lock > ino\nexec sleep 1000000\n',
    'locked/lock-fd': '4\n',
  });
  sv = await startVigilSvscan(sd);
});

after(() => {
  sv?.kill();
  if (sd) removeTree(sd);
});

test('1: status bytes: 35 bytes, pid = s6-svstat -p, flags 0x04, updownsince = stamp, TAI = unix + 37', async () => {
  const dir = svc('sleeper');
  const st = await waitUp(dir);
  const buf = fs.readFileSync(path.join(dir, 'supervise', 'status'));
  assert.equal(buf.length, 35);
  const p = await tool('s6-svstat', ['-p', dir]);
  assert.equal(p.code, 0, p.stderr);
  assert.equal(p.stdout.trim(), String(Number(buf.readBigUInt64BE(24))));
  assert.equal(Number(buf.readBigUInt64BE(24)), st.pid);
  assert.equal(buf[34], 0x04);
  const o = await tool('s6-svstat', ['-o', 'updownsince', dir]);
  assert.equal(o.stdout.trim(), '@' + buf.subarray(0, 12).toString('hex'));
  const sec = buf.readBigUInt64BE(0) - TAI_OFFSET;
  const now = BigInt(Math.floor(Date.now() / 1000));
  assert.ok(now - sec >= 0n && now - sec < 30n, `stamp ${sec} vs now ${now}`);
  const ok = await tool('s6-svok', [dir]);
  assert.equal(ok.code, 0);
  const human = await tool('s6-svstat', [dir]);
  assert.match(human.stdout, /^up \(pid [0-9]+\) [0-9]+ seconds\n$/);
});

test('4: run gets argv "run NAME", cwd = service dir, its own session; finish gets 256 9 NAME / 7 0 NAME', async () => {
  const dir = svc('args');
  const st = await waitUp(dir);
  await waitFor(() => fs.existsSync(path.join(dir, 'ids')) && fs.readFileSync(path.join(dir, 'ids'), 'utf8').split('\n').length >= 3, 3000, 'ids');
  // $1 is NAME and nothing else (s6 execs ./run, vigil the absolute path: $0 differs, argv[0] is "run")
  assert.equal(fs.readFileSync(path.join(dir, 'argv'), 'utf8'), '1 args\n');
  assert.equal(fs.readFileSync(path.join(dir, 'cwd'), 'utf8').trim(), fs.realpathSync(dir));
  const [pgsid, pid] = fs.readFileSync(path.join(dir, 'ids'), 'utf8').trim().split('\n');
  assert.equal(pgsid, `${pid} ${pid}`, 'pgid = sid = pid');
  assert.equal(Number(pid), st.pid, 'exec keeps the pid');
  const k = await tool('s6-svc', ['-k', dir]);
  assert.equal(k.code, 0);
  await waitFor(() => fs.existsSync(path.join(dir, 'finish-args')) && fs.readFileSync(path.join(dir, 'finish-args'), 'utf8').includes('\n'), 3000, 'finish-args');
  assert.equal(fs.readFileSync(path.join(dir, 'finish-args'), 'utf8'), '256 9 args\n');
  await tool('s6-svc', ['-d', dir]);

  const d7 = svc('exit7');
  const o = await tool('s6-svc', ['-o', d7]);
  assert.equal(o.code, 0);
  await waitFor(() => fs.existsSync(path.join(d7, 'finish-args')), 3000, 'exit7 finish-args');
  await waitDown(d7);
  assert.equal(fs.readFileSync(path.join(d7, 'finish-args'), 'utf8'), '7 0 exit7\n');
  const s = await tool('s6-svstat', [d7]);
  assert.match(s.stdout, /^down \(exitcode 7\) [0-9]+ seconds, ready [0-9]+ seconds\n$/);
});

test('5: finish exit 125 = permanent failure: s6-svwait -U exits 1, wantedup false, events OD', async () => {
  const dir = svc('perm');
  const ev = recordEvents(path.join(dir, 'event'));
  try {
    const waiting = tool('s6-svwait', ['-t', '3000', '-U', dir], 6000);
    await sleep(200);
    assert.equal((await tool('s6-svc', ['-u', dir])).code, 0);
    const w = await waiting;
    assert.equal(w.code, 1, `s6-svwait: ${w.stderr}`);
    assert.match(w.stderr, /permanent failure/);
    const o = await tool('s6-svstat', ['-o', 'wantedup', dir]);
    assert.equal(o.stdout, 'false\n');
    await ev.waitMatch(/udOD/, 2000);
  } finally {
    ev.close();
  }
});

test('6: restart throttle: 1 s between starts without readiness; at once when ready 1 s earlier', async () => {
  const dir = svc('crash');
  await tool('s6-svc', ['-u', dir]);
  await waitFor(() => {
    try {
      return fs.readFileSync(path.join(dir, 'starts'), 'utf8').trim().split('\n').length >= 4;
    } catch {
      return false;
    }
  }, 6000, '4 starts');
  await tool('s6-svc', ['-d', dir]);
  const t = fs.readFileSync(path.join(dir, 'starts'), 'utf8').trim().split('\n').map(Number);
  for (let i = 1; i < 4; i++) {
    const gap = t[i] - t[i - 1];
    assert.ok(gap >= 0.95 && gap < 1.6, `gap ${i}: ${gap.toFixed(3)} s`);
  }
  // ready at once, dies 2 s later: restart without waiting
  const rd = svc('readydie');
  await tool('s6-svc', ['-u', rd]);
  await waitFor(() => {
    try {
      return fs.readFileSync(path.join(rd, 'starts'), 'utf8').trim().split('\n').length >= 2;
    } catch {
      return false;
    }
  }, 6000, '2 starts of readydie');
  await tool('s6-svc', ['-d', rd]);
  const r = fs.readFileSync(path.join(rd, 'starts'), 'utf8').trim().split('\n').map(Number);
  const gap = r[1] - r[0];
  assert.ok(gap >= 1.9 && gap < 2.6, `ready-then-die gap ${gap.toFixed(3)} s (expected ~2 s: no extra throttle)`);
});

test('7: readiness: first chunk with a newline; s6-svc -wU waits for it; later writes get EPIPE', async () => {
  const dir = svc('ready');
  const w = await tool('s6-svc', ['-wU', '-T', '3000', '-u', dir], 6000);
  assert.equal(w.code, 0, w.stderr);
  assert.ok(w.ms >= 450, `s6-svc -wU returned after ${w.ms} ms, before the newline`);
  const o = await tool('s6-svstat', ['-o', 'up,ready', dir]);
  assert.equal(o.stdout, 'true true\n');
  await waitFor(() => fs.existsSync(path.join(dir, 'after')) && fs.readFileSync(path.join(dir, 'after'), 'utf8').includes('\n'), 3000, 'after');
  assert.notEqual(fs.readFileSync(path.join(dir, 'after'), 'utf8').trim(), 'rc=0', 'a write after readiness must fail');
  const st = statusOf(dir)!;
  assert.equal(st.ready, true);
  await tool('s6-svc', ['-d', dir]);
});

test('8: down-signal + timeout-kill: -wD -d takes about 1 s and ends in SIGKILL; without timeout-kill -wd times out (99)', async () => {
  const dir = svc('stubborn');
  await waitUp(dir);
  await sleep(100);
  const r = await tool('s6-svc', ['-wD', '-T', '5000', '-d', dir], 8000);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.ms >= 900 && r.ms < 3000, `took ${r.ms} ms`);
  const s = await tool('s6-svstat', ['-o', 'signal', dir]);
  assert.equal(s.stdout, 'SIGKILL\n');
  assert.match(fs.readFileSync(path.join(dir, 'got'), 'utf8'), /usr1/);

  const d2 = svc('stubborn2');
  await waitUp(d2);
  const r2 = await tool('s6-svc', ['-T', '1000', '-wd', '-d', d2], 5000);
  assert.equal(r2.code, 99);
  await tool('s6-svc', ['-k', d2]);
  await waitDown(d2);
});

test('9: command letters: p c o D U Q O, garbage bytes ignored', async () => {
  const dir = svc('letters');
  const st = await waitUp(dir);
  await tool('s6-svc', ['-p', dir]);
  await waitStatus(dir, (s) => s.paused, 2000, 'paused');
  assert.match((await tool('s6-svstat', [dir])).stdout, /, paused/);
  const stat = fs.readFileSync(`/proc/${st.pid}/stat`, 'utf8');
  assert.equal(stat.slice(stat.lastIndexOf(')') + 2)[0], 'T');
  await tool('s6-svc', ['-c', dir]);
  await waitStatus(dir, (s) => !s.paused, 2000, 'continued');
  // garbage straight into the control fifo
  fs.writeFileSync(path.join(dir, 'supervise', 'control'), Buffer.from([0, 0xff, 0x41, 0x5a, 0x20, 0x0a, 0x7f, 0x80]));
  assert.equal(statusOf(dir)!.pid, st.pid, 'garbage changed nothing');
  // -D: down file appears, service goes down; -U: file goes, service up again
  await tool('s6-svc', ['-D', dir]);
  await waitDown(dir);
  assert.ok(fs.existsSync(path.join(dir, 'down')));
  await tool('s6-svc', ['-U', dir]);
  await waitUp(dir);
  assert.ok(!fs.existsSync(path.join(dir, 'down')));
  // -O while up: no restart after -k
  const up = statusOf(dir)!;
  await tool('s6-svc', ['-O', dir]);
  await tool('s6-svc', ['-k', dir]);
  await waitDown(dir);
  await sleep(1300);
  assert.equal(statusOf(dir)!.pid, 0, 'no restart after -O');
  assert.notEqual(up.pid, 0);
  // -Q: down file, no signal
  await tool('s6-svc', ['-u', dir]);
  await waitUp(dir);
  await tool('s6-svc', ['-Q', dir]);
  await waitStatus(dir, (s) => !s.wantUp, 2000, 'want down');
  assert.ok(fs.existsSync(path.join(dir, 'down')));
  assert.notEqual(statusOf(dir)!.pid, 0, '-Q sends no signal');
  await tool('s6-svc', ['-d', dir]);
  await waitDown(dir);
  // -o on a down service runs once
  const once = svc('once');
  await tool('s6-svc', ['-o', once]);
  await waitFor(() => fs.existsSync(path.join(once, 'ran')), 3000, 'once ran');
  await waitDown(once);
  await sleep(1300);
  assert.equal(fs.readFileSync(path.join(once, 'ran'), 'utf8'), 'ran\n');
});

test('10: events: s6-ftrig-listen1 dDu around -r; exact bytes d D u, then Dx after -dx, s u after a new supervisor', async () => {
  const dir = svc('events');
  await waitUp(dir);
  const l = await tool('s6-ftrig-listen1', ['-t', '5000', path.join(dir, 'event'), 'dDu', 's6-svc', '-r', dir], 8000);
  assert.equal(l.code, 0, l.stderr);
  assert.equal(l.stdout, 'u\n');
  assert.ok(l.ms >= 900, `restart took ${l.ms} ms (throttle is 1 s)`);
  const ev = recordEvents(path.join(dir, 'event'));
  try {
    await waitUp(dir);
    await tool('s6-svc', ['-dx', dir]);
    await ev.waitMatch(/dDx/, 3000);
    assert.equal(ev.bytes(), 'dDx');
    // the scanner brings a new supervisor 1 s later: s, and no u (want down? no: down file absent → up)
    await ev.waitMatch(/dDxsu/, 4000);
    const ok = await tool('s6-svok', [dir]);
    assert.equal(ok.code, 0);
  } finally {
    ev.close();
  }
});

test('11: death tally: limited by max-death-tally, empty after the supervisor restarts', async () => {
  const dir = svc('tally');
  await tool('s6-svc', ['-u', dir]);
  await waitFor(async () => (await tool('s6-svdt', [dir])).stdout.split('\n').filter(Boolean).length >= 3, 6000, '3 records');
  await sleep(1200);
  const dt = await tool('s6-svdt', [dir]);
  const lines = dt.stdout.split('\n').filter(Boolean);
  assert.equal(lines.length, 3);
  for (const line of lines) assert.match(line, /^@[0-9a-f]{24} exitcode 3$/);
  assert.equal(fs.statSync(path.join(dir, 'supervise', 'death_tally')).size, 42);
  await tool('s6-svc', ['-dx', dir]);
  // new supervisor: truncated
  await waitFor(async () => (await tool('s6-svok', [dir])).code === 1, 3000, 'supervisor gone');
  await waitFor(async () => (await tool('s6-svok', [dir])).code === 0, 4000, 'supervisor back');
  const after = await tool('s6-svdt', [dir]);
  assert.equal(after.stdout, '');
});

test('18: s6-svc exit codes: no supervisor 100, no supervise/ 100, no directory 111', async () => {
  const d = makeTree({ 'x/run!': SLEEP_RUN, 'y/supervise/': '' });
  try {
    fs.mkdirSync(path.join(d, 'x', 'supervise'));
    const { native } = await import('../../src/sys/native');
    native().mkfifo(path.join(d, 'x', 'supervise', 'control'), 0o600);
    const a = await tool('s6-svc', ['-u', path.join(d, 'x')]);
    assert.equal(a.code, 100);
    assert.match(a.stderr, /not listening/);
    const b = await tool('s6-svc', ['-u', path.join(d, 'z')]);
    assert.equal(b.code, 111);
    fs.rmSync(path.join(d, 'y', 'supervise'), { recursive: true });
    const c = await tool('s6-svc', ['-u', path.join(d, 'y')]);
    assert.equal(c.code, 100);
    // and for a service whose supervision ended (vigil released the lock)
    const dir = svc('sleeper');
    const ok = await tool('s6-svok', [dir]);
    assert.equal(ok.code, 0);
  } finally {
    removeTree(d);
  }
});

test('lock-fd: run holds a write lock on supervise/service-lock on fd N (created if missing)', async () => {
  const dir = svc('locked');
  await waitUp(dir);
  await waitFor(() => fs.existsSync(path.join(dir, 'ino')) && fs.readFileSync(path.join(dir, 'ino'), 'utf8').includes('\n'), 3000, 'lock facts');
  assert.equal(fs.readFileSync(path.join(dir, 'fd4'), 'utf8').trim(), path.join(fs.realpathSync(dir), 'supervise', 'service-lock'));
  const ino = fs.readFileSync(path.join(dir, 'ino'), 'utf8').trim();
  const locks = fs.readFileSync(path.join(dir, 'locks'), 'utf8');
  assert.match(locks, new RegExp(`OFDLCK\\s+ADVISORY\\s+WRITE\\s+-?[0-9]+\\s+[0-9a-f]+:[0-9a-f]+:${ino} 0 EOF`), locks);
  await tool('s6-svc', ['-d', dir]);
  await waitDown(dir);
});
