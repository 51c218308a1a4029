// supervise/vigil-run (src/formats/runrecord.ts) and /proc/PID/stat (src/sys/procstat.ts): the record a
// restarted supervisor adopts a run by. Fixed width, written in place; garbage, another boot, a recycled pid
// and a zombie never match; a fifo put in its place neither blocks nor is read.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir, removeTree } from '../helpers/scandir';
import { bootId, readRunRecord, recordIsAlive, RECORD_SIZE, writeRunRecord } from '../../src/formats/runrecord';
import { readProcStat } from '../../src/sys/procstat';
import { native } from '../../src/sys/native';
import { spawnProcess } from '../../src/sys/spawn';
import { waitFor } from '../helpers/wait';

function dir(t: { after(fn: () => void): void }): string {
  const d = tmpdir();
  fs.mkdirSync(path.join(d, 'supervise'));
  t.after(() => removeTree(d));
  return d;
}
const file = (d: string) => path.join(d, 'supervise', 'vigil-run');

test('a record is one line of exactly RECORD_SIZE bytes, overwritten in place; a longer file is cut', (t) => {
  const d = dir(t);
  fs.writeFileSync(file(d), 'x'.repeat(1000));
  writeRunRecord(d, { pid: 4242, startTime: 99, kind: 'own' });
  assert.equal(fs.statSync(file(d)).size, RECORD_SIZE);
  assert.deepEqual(readRunRecord(d), { pid: 4242, startTime: 99, bootId: bootId(), kind: 'own' });
  const ino = fs.statSync(file(d)).ino;
  writeRunRecord(d, { pid: 7, startTime: 0, kind: 'exit-unknown' });
  assert.equal(fs.statSync(file(d)).ino, ino, 'in place: no rename');
  assert.deepEqual(readRunRecord(d), { pid: 7, startTime: 0, bootId: bootId(), kind: 'exit-unknown' });
  assert.match(fs.readFileSync(file(d), 'latin1'), /^7 0 [0-9a-f-]+ exit-unknown +\n$/);
});

test('garbage, a short or a long record, a directory or a fifo: no record (and no block)', (t) => {
  const d = dir(t);
  const bad = ['', 'hello\n', `1 2 ${bootId()} own\n`, `${'1 2 x own'.padEnd(127)}\n`, `${`0x1 2 ${bootId()} own`.padEnd(127)}\n`, `${`1 2 ${bootId()} own`.padEnd(128)}\n`];
  for (const b of bad) {
    fs.writeFileSync(file(d), b);
    assert.equal(readRunRecord(d), null, JSON.stringify(b));
  }
  fs.rmSync(file(d));
  native().mkfifo(file(d), 0o600);
  assert.equal(readRunRecord(d), null);
  assert.throws(() => writeRunRecord(d, { pid: 1, startTime: 1, kind: 'own' }), { code: 'ENXIO' }, 'a fifo with no reader: refused at once');
  fs.rmSync(file(d));
  fs.mkdirSync(file(d));
  assert.equal(readRunRecord(d), null);
});

test('alive: the live process with that pid and start time in this boot; not another boot, not a recycled pid, not a zombie', async (t) => {
  const me = readProcStat(process.pid)!;
  assert.equal(me.ppid, process.ppid);
  assert.equal(recordIsAlive({ pid: process.pid, startTime: me.startTime, kind: 'own' }), true);
  assert.equal(recordIsAlive({ pid: process.pid, startTime: me.startTime, kind: 'adopted' }), true);
  assert.equal(recordIsAlive({ pid: process.pid, startTime: me.startTime + 1, kind: 'own' }), false, 'pid recycled');
  assert.equal(recordIsAlive({ pid: process.pid, startTime: me.startTime, kind: 'own', bootId: '00000000-0000-0000-0000-000000000000' }), false);
  assert.equal(recordIsAlive({ pid: process.pid, startTime: me.startTime, kind: 'exit-unknown' }), false);
  // a child of ours that exited and is not reaped: a zombie is not a run to adopt
  const pid = spawnProcess({ argv: ['/bin/true'], fds: [null, null, null] });
  t.after(() => native().reap());
  await waitFor(() => readProcStat(pid)?.state === 'Z', 5000, 'the child a zombie');
  assert.equal(recordIsAlive({ pid, startTime: readProcStat(pid)!.startTime, kind: 'own' }), false);
  assert.equal(readProcStat(2 ** 22 + 12345), null, 'no such process');
});
