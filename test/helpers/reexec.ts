/**
 * Shared by the re-exec tests (test/scanner/reexec.test.ts, test/init/reexec.test.ts): the preloaded fault
 * injector's path and trigger, a numbered-line writer service, the check that a log holds 1..N, and the
 * repeated run of `npm run stress -- reexec`.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bootInit } from './init-ns';
import type { TestContext } from 'node:test';
import { native } from '../../src/sys/native';
import { makeTree, removeTree, tmpdir } from './scandir';
import { startBg, tool, VIGIL, waitListening } from './svscan';
import { statusOf, waitFor } from './wait';
import { SVSCAN_REEXEC } from '../../src/formats/control';

/** `node -r FAULT_PRELOAD ...`: test/helpers/fault-inject.ts, compiled */
export const FAULT_PRELOAD = path.join(__dirname, 'fault-inject.js');

/** a service writing "line N" 20 times a second, forking nothing (bash's read -t on a fifo nobody writes) */
export const WRITER = '#!/bin/bash\n[ -p tick ] || mkfifo tick\nexec 3<>tick\ni=0\nwhile :; do i=$((i+1)); echo "line $i"; read -t 0.05 -u 3; done\n';

/** trigger a fault in the supervisor (VIGIL_TEST_FAULT_DIR=dir), SIGKILLing `victims` (its pids) just before */
export function injectFault(dir: string, kind: 'throw' | 'reject' | 'block', victims: number[] = []): void {
  if (victims.length) {
    fs.writeFileSync(path.join(dir, 'kill.tmp'), victims.join(' '));
    fs.renameSync(path.join(dir, 'kill.tmp'), path.join(dir, 'kill'));
  }
  fs.writeFileSync(path.join(dir, kind), '');
}

/** two temp dirs (the fault trigger, CMD's), removed after the test */
export function faultDirs(t: TestContext): [string, string] {
  const faults = tmpdir('vigil-fault-');
  const d = tmpdir('vigil-cmd-');
  t.after(() => {
    fs.rmSync(faults, { recursive: true, force: true });
    fs.rmSync(d, { recursive: true, force: true });
  });
  return [faults, d];
}

/** a CMD that writes its pid to D/cmdpid, then exits with what releaseCmd(D, code) writes to the fifo D/go */
export function holdingCmd(d: string): string[] {
  native().mkfifo(path.join(d, 'go'), 0o600);
  return ['sh', '-c', 'echo $$ > "$0/cmdpid"; read x < "$0/go"; exit $x', d];
}

export function releaseCmd(d: string, code: number): void {
  const fd = fs.openSync(path.join(d, 'go'), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  fs.writeSync(fd, `${code}\n`);
  fs.closeSync(fd);
}

/** the N of every line ending in "line N" */
export function lineNumbers(lines: string[]): number[] {
  return lines.map((l) => /(?:^|\s)line ([0-9]+)$/.exec(l)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1]));
}

/** the lines of a logdir: its archives (@*.s, in order), then current */
export function logdirLines(logdir: string): string[] {
  let names: string[] = [];
  try {
    names = fs.readdirSync(logdir).filter((n) => n.startsWith('@')).sort();
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const n of [...names, 'current']) {
    try {
      out.push(...fs.readFileSync(path.join(logdir, n), 'latin1').split('\n'));
    } catch {
      /* no current yet */
    }
  }
  return out;
}

/** got is 1, 2, ... N with N >= atLeast: nothing lost, nothing doubled */
export function assertContiguous(what: string, got: number[], atLeast: number): void {
  assert.ok(got.length >= atLeast, `${what}: ${got.length} lines`);
  const bad = got.findIndex((v, i) => v !== i + 1);
  assert.equal(bad, -1, `${what}: line ${bad + 1} is "line ${got[bad]}" (lost or doubled lines)`);
}

/** the pid of hostPid in its own (innermost) PID namespace */
export function nsPidOf(hostPid: number): number {
  const st = fs.readFileSync(`/proc/${hostPid}/status`, 'utf8');
  return Number(/^NSpid:\s+(.*)$/m.exec(st)![1].trim().split(/\s+/).pop());
}

export interface ReexecRunResult {
  services: number;
  /** re-execs done (the first after a fault, the others on request) */
  reexecs: number;
  /** ms from each trigger until the new image said it had taken every supervision back */
  ms: number[];
  /** services whose pid changed over all the re-execs (must be 0) */
  restarted: number;
  /** logged writers whose logdir is not exactly 1..N at the end (must be 0) */
  badLogs: number;
  /** anything that went wrong (empty when clean) */
  errors: string[];
}

export interface ReexecRunOptions {
  /** the [node, bin/vigil] to run (default: this node, this checkout; the bench passes its frozen copy) */
  vigil?: [string, string];
  /**
   * how the on-request re-execs are asked for: 'cli' (default) runs `vigil reexec DIR`, so each time includes
   * that client's start; 'fifo' writes the R byte into .s6-svscan/control itself (what the client does), so
   * the time is the supervisor's alone
   */
  request?: 'cli' | 'fifo';
}

/**
 * `npm run stress -- reexec` (and the bench): n services under vigil svscan (10 of them writing numbered
 * lines logged inside the supervisor), one fault then times-1 on-request re-execs in a row; pids, logs and
 * timings checked.
 */
export async function reexecRun(n = 100, times = 20, opts: ReexecRunOptions = {}): Promise<ReexecRunResult> {
  const [node, bin] = opts.vigil ?? [process.execPath, VIGIL];
  // the preload of the same build as bin (a frozen copy has its own dist/test)
  const preload = opts.vigil ? path.join(path.dirname(bin), '..', 'dist', 'test', 'helpers', 'fault-inject.js') : FAULT_PRELOAD;
  const tree: Record<string, string> = {};
  const writers: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = `s${String(i).padStart(3, '0')}`;
    if (i < 10) {
      tree[`${name}/run!`] = WRITER;
      tree[`${name}/log-dir`] = 'logdir\n';
      writers.push(name);
    } else tree[`${name}/run!`] = '#!/bin/sh\nexec sleep 1000000\n';
  }
  const sd = makeTree(tree);
  const faults = tmpdir('vigil-fault-');
  const out: ReexecRunResult = { services: n, reexecs: 0, ms: [], restarted: 0, badLogs: 0, errors: [] };
  const bg = startBg(node, ['-r', preload, bin, 'svscan', `-c${n + 10}`, sd], { env: { ...process.env, VIGIL_TEST_FAULT_DIR: faults } });
  try {
    await waitListening(sd, bg, 10000);
    const names = Object.keys(tree).map((k) => k.split('/')[0]).filter((v, i, a) => a.indexOf(v) === i);
    await waitFor(() => names.every((s) => (statusOf(path.join(sd, s))?.pid ?? 0) > 0), 60000, `${n} services up`, 50);
    const before = new Map(names.map((s) => [s, statusOf(path.join(sd, s))!.pid]));
    const done = () => (bg.stderr().match(/re-executed (after an internal fault|on request): [0-9]+ supervisions carried over/g) ?? []).length;
    for (let i = 1; i <= times; i++) {
      const t0 = Date.now();
      if (i === 1) injectFault(faults, 'throw');
      else if (opts.request === 'fifo') {
        const fd = fs.openSync(path.join(sd, '.s6-svscan', 'control'), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
        try {
          fs.writeSync(fd, SVSCAN_REEXEC);
        } finally {
          fs.closeSync(fd);
        }
      } else {
        const r = await tool(node, [bin, 'reexec', sd]);
        if (r.code !== 0) out.errors.push(`vigil reexec exited ${r.code}: ${r.stderr.trim()}`);
      }
      await waitFor(() => done() >= i, 20000, `re-exec ${i}`, 5);
      out.ms.push(Date.now() - t0);
      out.reexecs = i;
    }
    out.restarted = names.filter((s) => statusOf(path.join(sd, s))?.pid !== before.get(s)).length;
    const r = await tool(node, [bin, 'svscanctl', '-t', sd]);
    if (r.code !== 0) out.errors.push(`svscanctl -t exited ${r.code}`);
    await waitFor(() => bg.hasExited(), 20000, 'the scanner exited');
    for (const w of writers) {
      const got = lineNumbers(logdirLines(path.join(sd, w, 'logdir')));
      const at = got.findIndex((v, i) => v !== i + 1);
      if (got.length === 0 || at >= 0) {
        out.badLogs++;
        out.errors.push(`${w}: ${got.length} lines, line ${at + 1} is ${got[at]} (then ${got.slice(at + 1, at + 4).join(' ')})`);
      }
    }
    if (/not re-executing|unable to re-execute/.test(bg.stderr())) out.errors.push('a re-exec was refused');
  } catch (e) {
    out.errors.push((e as Error).message);
  } finally {
    bg.kill();
    removeTree(sd);
    removeTree(faults);
  }
  return out;
}

/** the catch-all log, archives included (a current the previous image could not close cleanly is archived) */
export const caughtLines = (b: { rundir: string }): string[] => logdirLines(path.join(b.rundir, 'uncaught-logs'));

/**
 * vigil init --machine (forced, in a PID namespace, a fake /dev/console) with two services: a fault of `kind`
 * (k SIGKILLed just before) makes PID 1 re-execute (the line `said` in the catch-all log); the services stay,
 * k's death is reaped with its real status, PID 1 is still PID 1 and poweroff still works.
 */
export async function machineModeCase(t: TestContext, kind: 'throw' | 'block', said: RegExp, env: Record<string, string> = {}): Promise<void> {
  const [faults] = faultDirs(t);
  const con = path.join(tmpdir('vigil-con-'), 'console');
  fs.writeFileSync(con, '');
  t.after(() => fs.rmSync(path.dirname(con), { recursive: true, force: true }));
  const b = await bootInit(t, {
    tree: {
      'rc.shutdown.final!': '#!/bin/sh\necho "final $1" >> /dev/console\n',
      'service/s/run!': '#!/bin/sh\nexec sleep 1000000\n',
      'service/k/run!': '#!/bin/sh\nexec sleep 1000000\n',
      'service/k/finish!': '#!/bin/sh\necho "$1 $2" > finished\n',
    },
    args: ['--machine', '--grace', '2000'],
    fakeConsole: con,
    nodeArgs: ['-r', FAULT_PRELOAD],
    env: { VIGIL_TEST_FAULT_DIR: faults, ...env },
  });
  // the rundir is a tmpfs inside the namespace: seen through PID 1's root
  const sd = `/proc/${b.pid1}/root${b.rundir}/service`;
  const nsLog = `/proc/${b.pid1}/root${b.rundir}/uncaught-logs`;
  await waitFor(() => ['s', 'k'].every((n) => (statusOf(path.join(sd, n))?.pid ?? 0) > 0), 20000, 's and k up');
  const s0 = statusOf(path.join(sd, 's'))!.pid;
  injectFault(faults, kind, [statusOf(path.join(sd, 'k'))!.pid]);
  await waitFor(() => logdirLines(nsLog).some((l) => said.test(l)), 30000, `the re-exec\n${b.stderr()}`);
  await waitFor(() => fs.existsSync(path.join(sd, 'k', 'finished')), 10000, 'k: finish after its SIGKILL');
  assert.equal(fs.readFileSync(path.join(sd, 'k', 'finished'), 'utf8'), '256 9\n');
  assert.equal(statusOf(path.join(sd, 's'))!.pid, s0);
  assert.equal(nsPidOf(b.pid1), 1);
  const r0 = await tool(process.execPath, [VIGIL, 'poweroff', '--rundir', `/proc/${b.pid1}/root${b.rundir}`]);
  assert.equal(r0.code, 0, r0.stderr);
  const r = await b.exited(15000);
  assert.ok(r.signal === 'SIGINT' || r.code === 130, `ended with ${JSON.stringify(r)}\n${b.stderr()}`);
  assert.match(fs.readFileSync(con, 'utf8'), /final poweroff/);
}
