// vigil halt|poweroff|reboot|shutdown: the bytes on s6-linux-init-shutdownd's fifo (s6-protocol.md §10.3),
// and the daemon inside vigil init (planned shutdown, cancel, stage-3-only, the record's grace time).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { bootInit, VIGIL } from '../helpers/init-ns';
import { tmpdir } from '../helpers/scandir';
import { sleep, waitFor } from '../helpers/wait';
import { native } from '../../src/sys/native';

function vigil(args: string[]): { code: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [VIGIL, ...args], { encoding: 'utf8', timeout: 10000 });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

/** a fake daemon: RUNDIR/service/s6-linux-init-shutdownd/fifo read by the test */
function fakeDaemon(t: import('node:test').TestContext): { rundir: string; take(): Buffer } {
  const rundir = tmpdir('vigil-sd-');
  const dir = path.join(rundir, 'service', 's6-linux-init-shutdownd');
  fs.mkdirSync(dir, { recursive: true });
  const fifo = path.join(dir, 'fifo');
  native().mkfifo(fifo, 0o600);
  const fd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  t.after(() => {
    fs.closeSync(fd);
    fs.rmSync(rundir, { recursive: true, force: true });
  });
  const buf = Buffer.alloc(4096);
  return {
    rundir,
    take: () => {
      const n = native().read(fd, buf, 0, buf.length);
      return Buffer.from(buf.subarray(0, Math.max(0, n)));
    },
  };
}

function record(what: string, sec: number, nsec: number, grace: number): Buffer {
  const b = Buffer.alloc(17);
  b.write(what, 0, 'latin1');
  b.writeBigUInt64BE(BigInt(sec), 1);
  b.writeUInt32BE(nsec, 9);
  b.writeUInt32BE(grace, 13);
  return b;
}

test('halt/poweroff/reboot send one 17-byte record with zero delay and zero grace', (t) => {
  const d = fakeDaemon(t);
  for (const [cmd, ch] of [['halt', 'h'], ['poweroff', 'p'], ['reboot', 'r']]) {
    const r = vigil([cmd, '--rundir', d.rundir]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(d.take(), record(ch, 0, 0, 0), cmd);
  }
});

test('shutdown: TIME, -t (capped at 300 s, sent in ms), -c, no option = stage 3 only', (t) => {
  const d = fakeDaemon(t);
  let r = vigil(['shutdown', '-r', '-t', '5', '--rundir', d.rundir, '+2', 'going', 'down']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(d.take(), record('r', 120, 0, 5000));
  assert.equal(r.stdout, 'going down\n');
  r = vigil(['shutdown', '-h', '-t', '999', '--rundir', d.rundir, 'now']);
  assert.deepEqual(d.take(), record('h', 0, 0, 300000));
  r = vigil(['shutdown', '-p', '--rundir', d.rundir, '7']);
  assert.deepEqual(d.take(), record('p', 420, 0, 0));
  r = vigil(['shutdown', '--rundir', d.rundir, 'now']);
  assert.deepEqual(d.take(), record('S', 0, 0, 0));
  r = vigil(['shutdown', '-c', '--rundir', d.rundir]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(d.take(), Buffer.from('c'));
  // hh:mm: the next time the clock shows it, within a day
  r = vigil(['shutdown', '-h', '--rundir', d.rundir, '03:17']);
  const got = d.take();
  assert.equal(got.length, 17);
  assert.equal(got.toString('latin1', 0, 1), 'h');
  const sec = Number(got.readBigUInt64BE(1));
  assert.ok(sec > 0 && sec <= 86400, `delay ${sec} s`);
  // -k only prints
  r = vigil(['shutdown', '-k', '--rundir', d.rundir, 'now', 'just', 'a', 'warning']);
  assert.equal(r.code, 0);
  assert.equal(d.take().length, 0);
});

test('usage errors → 100; nobody reading the fifo → 111 "unable to talk to shutdownd"', () => {
  assert.equal(vigil(['shutdown']).code, 100);
  assert.equal(vigil(['shutdown', 'soon']).code, 100);
  assert.equal(vigil(['halt', '-x']).code, 100);
  const rundir = tmpdir('vigil-sd-none-');
  try {
    fs.mkdirSync(path.join(rundir, 'service', 's6-linux-init-shutdownd'), { recursive: true });
    native().mkfifo(path.join(rundir, 'service', 's6-linux-init-shutdownd', 'fifo'), 0o600);
    let r = vigil(['halt', '--rundir', rundir]);
    assert.equal(r.code, 111);
    assert.match(r.stderr, /unable to talk to shutdownd/);
    r = vigil(['shutdown', '--rundir', path.join(rundir, 'nope'), 'now']);
    assert.equal(r.code, 111);
    assert.match(r.stderr, /unable to talk to shutdownd/);
  } finally {
    fs.rmSync(rundir, { recursive: true, force: true });
  }
});

test('the daemon in vigil init: planned shutdown cancelled, stage 3 only, then poweroff with the record grace', { timeout: 40000 }, async (t) => {
  const b = await bootInit(t, {
    tree: {
      'rc.init!': '#!/bin/sh\ntouch "$VIGIL_RUNDIR/booted"\n',
      'rc.shutdown!': '#!/bin/sh\necho "$1" >> "$VIGIL_RUNDIR/rc-shutdown"\n',
      'rc.shutdown.final!': '#!/bin/sh\necho "$1" >> "$VIGIL_RUNDIR/rc-shutdown-final"\n',
      'service/stubborn/run!': '#!/bin/sh\ntrap "" TERM\nwhile :; do sleep 0.05; done\n',
    },
    args: ['--grace', '20000'],
  });
  const rf = (f: string): string => fs.readFileSync(path.join(b.rundir, f), 'utf8');
  await waitFor(() => fs.existsSync(path.join(b.rundir, 'booted')), 10000, 'stage 2');
  // in one minute... then cancelled
  assert.equal(vigil(['shutdown', '-h', '--rundir', b.rundir, '+1']).code, 0);
  assert.equal(vigil(['shutdown', '-c', '--rundir', b.rundir]).code, 0);
  // the same at the protocol level with a 1 s delay: a raw record, then 'c' before it is due
  const fifo = path.join(b.rundir, 'service', 's6-linux-init-shutdownd', 'fifo');
  const fd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  fs.writeSync(fd, record('h', 1, 0, 0));
  fs.writeSync(fd, 'c');
  fs.closeSync(fd);
  await sleep(1500);
  assert.ok(fs.existsSync(`/proc/${b.pid1}`), 'a cancelled shutdown happened anyway');
  assert.ok(!fs.existsSync(path.join(b.rundir, 'rc-shutdown')), 'rc.shutdown ran for a cancelled shutdown');
  // stage 3 only: rc.shutdown runs, the system goes on
  assert.equal(vigil(['shutdown', '--rundir', b.rundir, 'now']).code, 0);
  await waitFor(() => fs.existsSync(path.join(b.rundir, 'rc-shutdown')) && rf('rc-shutdown').endsWith('\n'), 10000, 'rc.shutdown (stage 3 only)');
  assert.equal(rf('rc-shutdown'), 'none\n');
  await sleep(300);
  assert.ok(fs.existsSync(`/proc/${b.pid1}`), 'init stopped after a stage-3-only shutdown');
  // poweroff with a 1 s grace in the record: the stubborn service is KILLed after ~1 s, not 20 s
  const t0 = Date.now();
  assert.equal(vigil(['shutdown', '-p', '-t', '1', '--rundir', b.rundir, 'now']).code, 0);
  const r = await b.exited(15000);
  const ms = r.at - t0;
  assert.equal(r.code, 0, b.stderr());
  assert.ok(ms >= 900 && ms < 10000, `stopped after ${ms} ms`);
  assert.equal(rf('rc-shutdown'), 'none\npoweroff\n');
  assert.equal(rf('rc-shutdown-final'), 'poweroff\n');
});

test('a halt sent while a stage-3-only rc.shutdown runs is done right after it, not dropped', { timeout: 30000 }, async (t) => {
  const b = await bootInit(t, {
    tree: {
      'rc.init!': '#!/bin/sh\ntouch "$VIGIL_RUNDIR/booted"\n',
      'rc.shutdown!': '#!/bin/sh\necho "start $1" >> "$VIGIL_RUNDIR/rc-shutdown"\nsleep 0.7\necho "end $1" >> "$VIGIL_RUNDIR/rc-shutdown"\n',
    },
  });
  await waitFor(() => fs.existsSync(path.join(b.rundir, 'booted')), 10000, 'stage 2');
  assert.equal(vigil(['shutdown', '--rundir', b.rundir, 'now']).code, 0);
  await waitFor(() => fs.existsSync(path.join(b.rundir, 'rc-shutdown')), 5000, 'rc.shutdown started');
  assert.equal(vigil(['halt', '--rundir', b.rundir]).code, 0);
  const r = await b.exited(15000);
  assert.equal(r.code, 0, b.stderr());
  assert.equal(fs.readFileSync(path.join(b.rundir, 'rc-shutdown'), 'utf8'), 'start none\nend none\nstart halt\nend halt\n');
});
