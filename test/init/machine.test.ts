// `vigil init --machine` in a PID + mount namespace with a file bind-mounted over /dev/console. Not the
// kernel's init, so stage 4 leaves the filesystems mounted (the host's superblocks must never be remounted
// read-only by a test); everything else runs: the tmpfs on the rundir, the console, the runlevel argument,
// the early getty, ctrl-alt-del (SIGINT) → reboot and poweroff → reboot(2), which the kernel turns into the
// namespace's end (SIGHUP for a reboot, SIGINT for a power-off).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { bootInit, VIGIL } from '../helpers/init-ns';
import { tmpdir } from '../helpers/scandir';
import { waitFor } from '../helpers/wait';

function machineTree(): Record<string, string> {
  return {
    'rc.init!': '#!/bin/sh\necho "runlevel=$1 mode=$VIGIL_MODE"\n',
    'rc.shutdown!': '#!/bin/sh\necho "rc.shutdown $1"\n',
    'rc.shutdown.final!': '#!/bin/sh\necho "final $1" >> /dev/console\n',
    'early-getty': './getty.sh --fake-tty\n',
    'getty.sh!': '#!/bin/sh\necho "early-getty-ran $1" >> /dev/console\nexec sleep 100000\n',
    'service/web/run!': '#!/bin/sh\necho web-up\nexec sleep 100000\n',
  };
}

async function boot(t: import('node:test').TestContext) {
  const con = path.join(tmpdir('vigil-con-'), 'console');
  fs.writeFileSync(con, '');
  t.after(() => fs.rmSync(path.dirname(con), { recursive: true, force: true }));
  const b = await bootInit(t, { tree: machineTree(), args: ['--machine', '--grace', '2000'], fakeConsole: con });
  const consoleText = () => fs.readFileSync(con, 'utf8');
  return { b, consoleText };
}

test('machine mode: tmpfs on the rundir, stage 2 with the runlevel, then poweroff → reboot(2)', { timeout: 30000 }, async (t) => {
  const { b, consoleText } = await boot(t);
  // the rundir is a tmpfs inside the namespace: the log is visible only through PID 1's root
  const nsLog = `/proc/${b.pid1}/root${b.rundir}/uncaught-logs/current`;
  await waitFor(() => fs.existsSync(nsLog) && fs.readFileSync(nsLog, 'utf8').includes('runlevel=default mode=machine'), 10000, `stage 2 in the namespace's uncaught-logs\n${b.stderr()}`);
  const mi = fs.readFileSync(`/proc/${b.pid1}/mountinfo`, 'utf8');
  assert.match(mi, new RegExp(` ${b.rundir.replace(/[/.]/g, '\\$&')} .* - tmpfs `), 'no tmpfs on the rundir');
  assert.ok(!fs.existsSync(path.join(b.rundir, 'uncaught-logs')), 'the rundir tmpfs leaked to the host');
  // the user's services start beside stage 2 (rc.init is started first): wait for the service's line
  await waitFor(() => fs.readFileSync(nsLog, 'utf8').includes('web-up'), 10000, `the web service's line in uncaught-logs\n${b.stderr()}`);
  await waitFor(() => consoleText().includes('early-getty-ran --fake-tty'), 10000, 'the early getty on the console');
  // poweroff through the daemon (the client finds the fifo through PID 1's view of the rundir)
  const r0 = spawnSync(process.execPath, [VIGIL, 'poweroff', '--rundir', `/proc/${b.pid1}/root${b.rundir}`], { encoding: 'utf8' });
  assert.equal(r0.status, 0, r0.stderr);
  const r = await b.exited(15000);
  // reboot(RB_POWER_OFF) from a namespace's init: the kernel kills it with SIGINT
  t.diagnostic(`namespace ended with ${JSON.stringify(r)}`);
  assert.ok(r.signal === 'SIGINT' || r.code === 130, `ended with ${JSON.stringify(r)}\n${b.stderr()}`);
  assert.match(consoleText(), /final poweroff/);
  assert.match(consoleText(), /filesystems left mounted/);
});

test('machine mode: SIGINT (ctrl-alt-del) reboots; SIGTERM is ignored', { timeout: 30000 }, async (t) => {
  const { b, consoleText } = await boot(t);
  const nsLog = `/proc/${b.pid1}/root${b.rundir}/uncaught-logs/current`;
  await waitFor(() => fs.existsSync(nsLog) && fs.readFileSync(nsLog, 'utf8').includes('runlevel='), 10000, 'stage 2');
  b.signal('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(fs.existsSync(`/proc/${b.pid1}`), 'SIGTERM stopped a machine-mode init');
  b.signal('SIGINT');
  const r = await b.exited(15000);
  t.diagnostic(`namespace ended with ${JSON.stringify(r)}`);
  assert.ok(r.signal === 'SIGHUP' || r.code === 129, `ended with ${JSON.stringify(r)}`);
  assert.match(consoleText(), /final reboot/);
});
