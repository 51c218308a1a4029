// `vigil svscan --rc` re-executes itself with its service manager (issue 10 item 2): PID 1 of a PID namespace,
// a fault injected by the preloaded test module (test/helpers/fault-inject.ts). After the re-exec the longruns
// keep their pids, the oneshot's `up` ran once, a pipeline (producer-for / consumer-for, its pipe held by the
// supervisor) loses and doubles no line, `vigil rc` answers, and SIGTERM still brings the managed services
// down in reverse dependency order; a dry run in progress is told to run again.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { rcTree, longrun, oneshot, bundle } from '../helpers/rctree';
import { startBg, tool, VIGIL } from '../helpers/svscan';
import { statusOf, waitFor } from '../helpers/wait';
import { tmpdir } from '../helpers/scandir';
import { assertContiguous, FAULT_PRELOAD, injectFault, lineNumbers, WRITER } from '../helpers/reexec';

test('svscan --rc: a fault keeps every longrun and the pipeline, runs no oneshot twice; vigil rc answers; SIGTERM still stops in order', { timeout: 120000 }, async (t) => {
  const out = tmpdir('vigil-rcreexec-');
  const faults = tmpdir('vigil-fault-');
  const note = (what: string): string => `sh -c "echo ${what} >> ${out}/order"\n`;
  const src = rcTree({
    ...oneshot('setup', note('setup-up'), { down: note('setup-down') }),
    ...longrun('web', 'sleep 100000', { 'dependencies.d/setup': '', finish: `#!/bin/sh\necho web-down >> ${out}/order\n` }),
    'prod/type': 'longrun\n', 'prod/run': WRITER, 'prod/producer-for': 'cons\n',
    ...longrun('cons', `sh -c 'exec cat >> ${out}/piped'`, { 'consumer-for': 'prod\n' }),
    ...bundle('default', ['web', 'prod']),
  });
  const rundir = tmpdir('vigil-rcrun-');
  const sd = path.join(rundir, 'service');
  fs.mkdirSync(sd);
  t.after(() => {
    for (const d of [out, faults, src, rundir]) fs.rmSync(d, { recursive: true, force: true });
  });
  const bg = startBg('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, '-r', FAULT_PRELOAD, VIGIL, 'svscan', '--rc', src, '--rc-up', 'default', sd], {
    env: { ...process.env, VIGIL_TEST_FAULT_DIR: faults },
  });
  t.after(() => bg.kill());
  const pid1 = await waitFor(() => {
    const kids = fs.readFileSync(`/proc/${bg.pid}/task/${bg.pid}/children`, 'utf8').trim();
    return kids ? Number(kids.split(' ')[0]) : 0;
  }, 5000, 'PID 1 of the namespace');
  const order = (): string[] => (fs.existsSync(path.join(out, 'order')) ? fs.readFileSync(path.join(out, 'order'), 'utf8').trim().split('\n') : []);
  const piped = (): number[] => (fs.existsSync(path.join(out, 'piped')) ? lineNumbers(fs.readFileSync(path.join(out, 'piped'), 'utf8').split('\n')) : []);
  const names = ['web', 'prod', 'cons'];
  await waitFor(() => names.every((n) => (statusOf(path.join(sd, n))?.pid ?? 0) > 0) && piped().length >= 5, 20000, `the longruns up, 5 lines through the pipeline\n${bg.stderr()}`);
  const before = names.map((n) => statusOf(path.join(sd, n))!.pid);

  // a dry run in progress at the exec (its timers were the old image's): told so, not left waiting
  const dry = startBg(process.execPath, [VIGIL, 'rc', '-l', path.join(rundir, 's6-rc'), '-n', '20000', '-d', 'change', 'setup']);
  t.after(() => dry.kill());
  await waitFor(() => dry.stdout().includes('vigil rc-dryrun: down web'), 10000, `the dry run began\n${dry.stderr()}`);
  injectFault(faults, 'throw');
  await waitFor(() => /re-executed after an internal fault/.test(bg.stderr()), 15000, 're-exec after the fault');
  const [dryCode] = await dry.exited;
  assert.equal(dryCode, 111, dry.stderr());
  assert.match(dry.stderr(), /vigil rc: fatal: the service manager was re-executed during this dry run: run it again/);
  const mid = Math.max(...piped());
  await waitFor(() => Math.max(...piped()) >= mid + 10, 20000, '10 more lines through the pipeline');
  assert.deepEqual(names.map((n) => statusOf(path.join(sd, n))!.pid), before, 'no longrun restarted');
  const list = await tool(process.execPath, [VIGIL, 'rc', '-l', path.join(rundir, 's6-rc'), '-a', 'list'], 20000);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(list.stdout.trim().split('\n').sort(), ['cons', 'prod', 'setup', 'web']);

  process.kill(pid1, 'SIGTERM');
  await waitFor(() => bg.hasExited(), 20000, `the tree stopped\n${bg.stderr()}`);
  assert.deepEqual(order(), ['setup-up', 'web-down', 'setup-down'], bg.stderr());
  assertContiguous('prod → cons', piped(), 15);
  assert.ok(!/not re-executing|unable to re-execute|internal error (?!\(uncaught)/.test(bg.stderr()), bg.stderr());
});
