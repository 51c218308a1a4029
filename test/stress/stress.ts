/**
 * `npm run stress [-- CASE... ] [--runs N] [--no-hog]`: the long repetitions of the reliability tests (the
 * short version of each case is in npm test). Every case runs beside a CPU hog (one busy process per core)
 * unless --no-hog. Prints one line per run and a verdict per case; exits 1 if any case fails.
 *
 * Cases (all by default, in this order):
 *   orphans   vigil svscan as PID 1 of a PID namespace; a service makes 10 000 orphans in bursts of 500;
 *             0 zombies 1 s after the last one exited, in each of 50 runs (test/scanner/pid1-orphans.test.ts)
 *   logkill   vigil log SIGKILLed 100 times over a 1 000 000-line stream; passes once 20 runs in a row have
 *             0 lost and 0 duplicated lines (at most 40 runs) (test/logger/kills.test.ts)
 *   fuzz      ~290 hostile service directories beside 20 good ones under vigil svscan, 10 runs: good up within
 *             5 s, each bad one said exactly once, peak RSS < 100 MB, SIGTERM obeyed within 1 s
 *             (test/scanner/fuzz.test.ts)
 *   adopt     1000 services under vigil svscan, the scanner SIGKILLed and started again, 5 runs: every run
 *             adopted (same pid), 1000 processes (not 2000), none left 5 s after SIGTERM (test/scanner/adopt.test.ts)
 *   reexec    100 services under vigil svscan (10 logged inside it), one fault then 19 vigil reexec in a row, 5
 *             runs: 0 restarts, every logdir exactly 1..N, the time of each re-exec (test/scanner/reexec.test.ts)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, ChildProcess } from 'node:child_process';
import { killStream } from '../helpers/logkill';
import { orphanBurstRun } from '../helpers/orphans';
import { fuzzRun } from '../helpers/fuzztree';
import { adoptRun } from '../helpers/adopt';
import { reexecRun } from '../helpers/reexec';

interface Case {
  name: string;
  defaultRuns: number;
  run(runs: number, log: (line: string) => void): Promise<boolean>;
}

function tmp(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

const CASES: Case[] = [
  {
    name: 'orphans',
    defaultRuns: 50,
    async run(runs, log) {
      let bad = 0;
      for (let i = 1; i <= runs; i++) {
        const r = await orphanBurstRun({ orphans: 10000, burst: 500 });
        const ok = r.zombiesAfter1s === 0;
        if (!ok) bad++;
        log(`orphans run ${i}/${runs}: ${r.seen} orphans seen as PID 1's children, zombies 1 s after the last exit: ${r.zombiesAfter1s}` +
          ` (clean ${r.cleanMs} ms after the last exit)${ok ? '' : '  FAIL'}`);
      }
      log(`orphans: ${runs - bad}/${runs} runs clean`);
      return bad === 0;
    },
  },
  {
    name: 'logkill',
    defaultRuns: 20,
    async run(inARow, log) {
      let streak = 0;
      const max = inARow * 2;
      const doubled: string[] = [];
      for (let i = 1; i <= max && streak < inARow; i++) {
        const dir = tmp('vigil-stress-logkill-');
        try {
          // 1 000 000 lines in about 50 s (200 every 10 ms), 100 kills spread over it
          const r = await killStream({ kind: 'vigil', lines: 1000000, kills: 100, batch: 200, intervalMs: 10, dir });
          const clean = r.lost === 0 && r.duplicated === 0 && r.outOfOrder === 0;
          if (r.duplicated) doubled.push(`${r.duplicated} lines in ${r.dupBlocks.length} block(s), largest ${Math.max(...r.dupBlocks)} bytes`);
          streak = clean ? streak + 1 : 0;
          log(`logkill run ${i}: ${r.kills} SIGKILLs, lost ${r.lost}, duplicated ${r.duplicated}, out of order ${r.outOfOrder}` +
            ` (${(r.ms / 1000).toFixed(1)} s)${clean ? '' : `  FAIL: ${r.examples.join('; ')}`}; clean in a row: ${streak}`);
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      }
      log(`logkill: ${streak >= inARow ? 'PASS' : 'FAIL'} (${streak} clean runs in a row, ${inARow} wanted)` +
        `${doubled.length ? `; runs with doubled lines: ${doubled.join('; ')}` : ''}`);
      return streak >= inARow;
    },
  },
  {
    name: 'fuzz',
    defaultRuns: 10,
    async run(runs, log) {
      let bad = 0;
      for (let i = 1; i <= runs; i++) {
        const r = await fuzzRun({ good: 20 });
        const why: string[] = [];
        if (!(r.upMs >= 0 && r.upOwnMs < 5000)) why.push(`good up after ${r.upMs} ms (${r.upOwnMs} ms not waiting for a CPU)`);
        if (r.unsaid.length) why.push(`never said: ${r.unsaid.join(', ')}`);
        if (r.notOnce.length) why.push(`not said once: ${r.notOnce.slice(0, 5).join('; ')}`);
        if (r.badLines.length) why.push(`bad lines: ${r.badLines.slice(0, 3).join(' | ')}`);
        if (r.hwmBytes >= 100 * 1024 * 1024) why.push('RSS >= 100 MB');
        if (!r.goodStillUp) why.push('a good service went down');
        if (!(r.stopMs >= 0 && r.stopOwnMs < 1000)) why.push(`stopped ${r.stopMs} ms after SIGTERM (${r.stopOwnMs} ms not waiting for a CPU)`);
        if (why.length) bad++;
        log(`fuzz run ${i}/${runs}: ${r.bad} bad + ${r.good} good, good up in ${r.upMs} ms (own ${r.upOwnMs}), peak RSS ${(r.hwmBytes / 1048576).toFixed(1)} MB,` +
          ` SIGTERM -> exit in ${r.stopMs} ms (own ${r.stopOwnMs})${why.length ? `  FAIL: ${why.join('; ')}` : ''}`);
      }
      log(`fuzz: ${runs - bad}/${runs} runs clean`);
      return bad === 0;
    },
  },
  {
    name: 'adopt',
    defaultRuns: 5,
    async run(runs, log) {
      let bad = 0;
      for (let i = 1; i <= runs; i++) {
        const r = await adoptRun(1000);
        const ok = r.adoptMs >= 0 && r.changed === 0 && r.processes === r.services && r.leftAfterTerm === 0;
        if (!ok) bad++;
        log(`adopt run ${i}/${runs}: ${r.services} services, all adopted ${r.adoptMs} ms after the second scanner started,` +
          ` pid changed: ${r.changed}, processes: ${r.processes}, left after SIGTERM: ${r.leftAfterTerm}${ok ? '' : '  FAIL'}`);
      }
      log(`adopt: ${runs - bad}/${runs} runs clean`);
      return bad === 0;
    },
  },
  {
    name: 'reexec',
    defaultRuns: 5,
    async run(runs, log) {
      let bad = 0;
      for (let i = 1; i <= runs; i++) {
        const r = await reexecRun(100, 20);
        const ok = r.reexecs === 20 && r.restarted === 0 && r.badLogs === 0 && r.errors.length === 0;
        if (!ok) bad++;
        const ms = [...r.ms].sort((a, b) => a - b);
        const med = ms.length ? ms[ms.length >> 1] : -1;
        log(`reexec run ${i}/${runs}: ${r.services} services, ${r.reexecs} re-execs (median ${med} ms, ${ms[0] ?? -1}-${ms[ms.length - 1] ?? -1} ms),` +
          ` restarted: ${r.restarted}, logdirs not 1..N: ${r.badLogs}${ok ? '' : `  FAIL ${r.errors.join('; ')}`}`);
      }
      log(`reexec: ${runs - bad}/${runs} runs clean`);
      return bad === 0;
    },
  },
];

/** one busy process per core (sh loops that end by themselves once this process is gone), killed at the end */
function startHog(): ChildProcess[] {
  return os.cpus().map(() => spawn('sh', ['-c', 'while kill -0 $PPID 2>/dev/null; do :; done'], { stdio: 'ignore' }));
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  let runs: number | undefined;
  let hog = true;
  const names: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--runs') runs = Number(args[++i]);
    else if (args[i] === '--no-hog') hog = false;
    else names.push(args[i]);
  }
  const chosen = names.length ? CASES.filter((c) => names.includes(c.name)) : CASES;
  if (chosen.length === 0 || (runs !== undefined && !(runs > 0))) {
    process.stderr.write(`usage: npm run stress -- [${CASES.map((c) => c.name).join('|')}]... [--runs N] [--no-hog]\n`);
    return 100;
  }
  const log = (line: string): void => void process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  log(`stress: node ${process.version}, ${os.cpus().length} cpus, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}, hog ${hog ? 'on' : 'off'}`);
  const hogs = hog ? startHog() : [];
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      for (const h of hogs) h.kill('SIGKILL');
      process.exit(130);
    });
  }
  let ok = true;
  try {
    for (const c of chosen) {
      const pass = await c.run(runs ?? c.defaultRuns, log);
      ok = ok && pass;
    }
  } finally {
    for (const h of hogs) h.kill('SIGKILL');
  }
  log(`stress: ${ok ? 'PASS' : 'FAIL'}`);
  return ok ? 0 : 1;
}

main().then((code) => process.exit(code), (e) => {
  process.stderr.write(`stress: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
