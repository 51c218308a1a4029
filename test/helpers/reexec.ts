/**
 * Shared by the re-exec tests (test/scanner/reexec.test.ts, test/init/reexec.test.ts): the preloaded fault
 * injector's path and trigger, a numbered-line writer service, and the check that a log holds 1..N.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** `node -r FAULT_PRELOAD ...`: test/helpers/fault-inject.ts, compiled */
export const FAULT_PRELOAD = path.join(__dirname, 'fault-inject.js');

/** a service writing "line N" 20 times a second, forking nothing (bash's read -t on a fifo nobody writes) */
export const WRITER = '#!/bin/bash\n[ -p tick ] || mkfifo tick\nexec 3<>tick\ni=0\nwhile :; do i=$((i+1)); echo "line $i"; read -t 0.05 -u 3; done\n';

/** trigger a fault in the supervisor (VIGIL_TEST_FAULT_DIR=dir), SIGKILLing `victims` (its pids) just before */
export function injectFault(dir: string, kind: 'throw' | 'reject', victims: number[] = []): void {
  if (victims.length) {
    fs.writeFileSync(path.join(dir, 'kill.tmp'), victims.join(' '));
    fs.renameSync(path.join(dir, 'kill.tmp'), path.join(dir, 'kill'));
  }
  fs.writeFileSync(path.join(dir, kind), '');
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
