// `docker run -it`: vigil init --container with a terminal as stdin, as PID 1 of a PID + mount namespace
// that runs on a real pseudo-terminal (test/helpers/pty-run.py). CMD gets the terminal on 0/1/2 as the
// terminal's foreground process group: it reads what is typed, the terminal driver sends it ^C / ^\ / ^Z
// itself, a shell has job control, and the container exits with CMD's code.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { VIGIL } from '../helpers/init-ns';
import { makeTree, tmpdir } from '../helpers/scandir';
import { procInfo, runOnPty, waitForeground, Pty } from '../helpers/pty';

/** vigil init on a pty, in a fresh PID + mount namespace; a service and a stage 2 run next to CMD */
function initOnPty(t: import('node:test').TestContext, cmd: string[], env: Record<string, string> = {}): Pty {
  const base = makeTree({
    'rc.init!': '#!/bin/sh\necho stage2-ran\n',
    'service/bg/run!': '#!/bin/sh\nexec sleep 100000\n',
  });
  const run = tmpdir('vigil-tty-run-');
  t.after(() => {
    fs.rmSync(base, { recursive: true, force: true });
    fs.rmSync(run, { recursive: true, force: true });
  });
  return runOnPty(t, ['unshare', '--pid', '--fork', '--mount-proc', '--mount',
    process.execPath, VIGIL, 'init', '--container', '--basedir', base, '--rundir', run, '--', ...cmd],
  { ...process.env, ...env });
}

/** init (the node process) and CMD are in different groups; CMD's is the terminal's foreground group */
function assertCmdOwnsTerminal(p: Pty, cmdComm: string): void {
  // Node 24 names its main thread "MainThread", which is what /proc/PID/comm shows; Node 20 and 22 keep "node"
  const init = p.find('node')[0] ?? p.find('MainThread')[0];
  const cmd = p.find(cmdComm).find((x) => x.pgrp === x.pid);
  assert.ok(init && cmd, `init ${JSON.stringify(init)} / ${cmdComm} ${JSON.stringify(p.find(cmdComm))}`);
  assert.equal(cmd.session, init.session, 'CMD is in init\'s session (the terminal\'s)');
  assert.notEqual(cmd.pgrp, init.pgrp, 'CMD has its own process group');
  assert.equal(procInfo(cmd.pid)!.tpgid, cmd.pgrp, 'CMD\'s group is the terminal\'s foreground group');
}

test('terminal: an interactive sh reads commands, has job control (^Z, fg, ^C), its exit code is the container\'s', { timeout: 60000 }, async (t) => {
  const p = initOnPty(t, ['/bin/sh', '-i'], { ENV: '' });
  // a prompt of our own (the echo of this line shows $((1+1)), the prompt itself 2)
  await p.send('PS1="vigil-$((1+1))> "\n', 'vigil-2> ', 20000, 'the shell prompt');
  assertCmdOwnsTerminal(p, 'sh');
  await p.send('echo answer-$((6*7))\n', 'answer-42', 10000, 'the shell to run a command');
  // a job in the foreground, stopped by ^Z from the terminal driver, resumed with fg, ended by ^C
  p.type('sleep 1000\n');
  await waitForeground(p, 'sleep', 10000);
  await p.send('\x1a', /Stopped/, 10000, 'the shell to report the stopped job');
  // (the service's sleep has no terminal: tpgid -1)
  const onTerminal = (): ReturnType<Pty['find']> => p.find('sleep').filter((x) => x.tpgid > 0);
  const stopped = onTerminal()[0];
  assert.equal(stopped?.state, 'T', `sleep is not stopped: ${JSON.stringify(stopped)}`);
  assert.equal(procInfo(stopped.pid)!.tpgid, p.find('sh').find((x) => x.pgrp === x.pid)!.pgrp, 'the shell took the terminal back');
  p.type('fg\n');
  await waitForeground(p, 'sleep', 10000);
  await p.send('\x03', 'vigil-2> ', 10000, 'the prompt after ^C ended the job');
  assert.equal(onTerminal().length, 0, 'sleep survived ^C');
  await p.send('echo still-$((2+3))\n', 'still-5', 10000, 'the shell to survive ^C of its job');
  p.type('exit 5\n');
  assert.equal(await p.exited(20000), 5, p.output());
});

test('terminal: tac reads 1 2 3 then EOF (^D) from the terminal and prints 3 2 1', { timeout: 60000 }, async (t) => {
  const p = initOnPty(t, ['tac']);
  // typed at once, as a fast user would: tac owns the terminal before its first read
  p.type('1\n2\n3\n\x04');
  await p.waitOutput('3\r\n2\r\n1\r\n', 20000, 'tac\'s output');
  assert.equal(await p.exited(20000), 0, p.output());
});

test('terminal: ^\\ and ^C reach CMD from the terminal driver (its own traps), not init', { timeout: 60000 }, async (t) => {
  const p = initOnPty(t, ['/bin/sh', '-c', 'trap "echo got-QUIT" QUIT; trap "echo got-INT; exit 7" INT; echo ready-$((1+1)); while :; do sleep 1; done']);
  await p.waitOutput('ready-2', 20000, 'CMD to start');
  assertCmdOwnsTerminal(p, 'sh');
  await p.send('\x1c', 'got-QUIT', 10000, 'CMD\'s QUIT trap');
  await p.send('\x03', 'got-INT', 10000, 'CMD\'s INT trap');
  // 7 is CMD's own choice: had init got the INT it would have stopped everything with TERM (143)
  assert.equal(await p.exited(20000), 7, p.output());
});

test('no terminal on stdin: CMD stays out of any foreground group business (stdin not a tty)', { timeout: 30000 }, async (t) => {
  const base = makeTree({ 'rc.init!': '#!/bin/sh\ntrue\n' });
  const run = tmpdir('vigil-notty-run-');
  t.after(() => {
    fs.rmSync(base, { recursive: true, force: true });
    fs.rmSync(run, { recursive: true, force: true });
  });
  // the pty is stdout/stderr only; stdin is /dev/null
  const p = runOnPty(t, ['sh', '-c', 'exec "$@" </dev/null', 'sh', 'unshare', '--pid', '--fork', '--mount-proc', '--mount',
    process.execPath, VIGIL, 'init', '--container', '--basedir', base, '--rundir', run, '--',
    '/bin/sh', '-c', `test -t 0 && exit 20; echo cmd-ran > ${path.join(run, 'ran')}; exit 4`]);
  assert.equal(await p.exited(20000), 4, p.output());
  assert.equal(fs.readFileSync(path.join(run, 'ran'), 'utf8'), 'cmd-ran\n');
  assert.doesNotMatch(p.output(), /job control/);
});
