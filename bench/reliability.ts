/**
 * Reliability benchmarks (issue 10 §5), vigil next to s6 in the same run, systems interleaved, each group's
 * repetitions marked with the 1-minute load average they started at:
 *
 * 1. logger SIGKILLs during a numbered stream: a writer sends 1 000 000 numbered lines (BENCH_QUICK=1:
 *    100 000) into a fifo whose both ends the bench holds (as a scanner holds a service's log pipe), the
 *    logger (`vigil log t s4000000 n1000 DIR` or Debian's `s6-log` with the same script) is SIGKILLed 100
 *    times (QUICK: 20) at random instants spread over the stream and restarted at once each time; then every
 *    line of the logdir is counted: lost, duplicated (test/helpers/logkill.ts, the scenario of
 *    test/logger/kills.test.ts and `npm run stress -- logkill`). The worst run and the median are reported.
 * 2. supervisor re-exec: 100 services under `vigil svscan` (10 of them writing numbered lines logged inside
 *    it), one re-exec after an injected fault, then on-request re-execs (the R byte on .s6-svscan/control):
 *    the time until the new image has every supervision back, restarts, logdirs not exactly 1..N
 *    (test/helpers/reexec.ts, `npm run stress -- reexec`). s6 has no such step: no column.
 * 3. adoption after a kill: N services (3 and 1000), the scanner SIGKILLed and started again over the same
 *    directory: time until every service is supervised again, copies, pids changed, processes left after the
 *    second scanner's SIGTERM (test/helpers/adopt.ts). s6: s6-svscan killed and restarted, its s6-supervise
 *    processes survive.
 * 4. a hostile tree (test/helpers/fuzztree.ts: ~290 malformed service directories beside 20 good ones): time
 *    until the 20 good ones are up, peak RSS, SIGTERM → exit; the same tree under s6-svscan.
 */
import { BenchTable, BenchRow } from './lib/table';
import { freshDir } from './lib/scandir';
import { frozenVigil, node20, progress } from './lib/sup';
import { describeSamples, load1, median, Sample, sampleMedian } from './lib/stats';
import { killStream, KillStreamResult } from '../test/helpers/logkill';
import { reexecRun, ReexecRunResult } from '../test/helpers/reexec';
import { adoptRun, s6AdoptRun } from '../test/helpers/adopt';
import { fuzzRun, s6FuzzRun } from '../test/helpers/fuzztree';

const QUICK = process.env.BENCH_QUICK === '1';
const LINES = QUICK ? 100000 : 1000000;
const KILLS = QUICK ? 20 : 100;
/** runs per system, interleaved (vigil, s6, vigil, ...; the order alternates) */
const REPS = QUICK ? 1 : 5;
const REEXEC_SERVICES = 100;
/** re-execs per run: the first after a fault, the others on request */
const REEXEC_TIMES = 5;
const ADOPT_NS = QUICK ? [3, 100] : [3, 1000];
/** how long after every bad service was said (vigil) / the good ones were up (s6) the peak RSS is read */
const FUZZ_SETTLE_MS = 2000;
/** how long the bench waits for s6's good services (vigil's helper waits 10 s), and for s6-svscan to exit */
const S6_FUZZ_UP_WAIT_MS = 60000;
const S6_FUZZ_STOP_WAIT_MS = 3000;

type Sys = 'vigil' | 's6';
const order = (rep: number): Sys[] => (rep % 2 ? ['s6', 'vigil'] : ['vigil', 's6']);
const MB = 1024 * 1024;

/**
 * one row from samples per system: the median, range, count and load marks in the note. A negative sample is
 * a wait that ran out (`never` says which wait): left out of the median and counted in the note.
 */
function sampleRow(scenario: string, unit: string, s: Partial<Record<Sys, Sample[]>>, extra: Partial<BenchRow> = {}, never: Partial<Record<Sys, string>> = {}): BenchRow {
  const values: Record<string, number | null> = {};
  const notes: string[] = [];
  for (const k of ['vigil', 's6'] as const) {
    const all = s[k] ?? [];
    const xs = all.filter((x) => x.v >= 0);
    values[k] = xs.length ? sampleMedian(xs) : null;
    const missed = all.length - xs.length;
    const parts = [xs.length ? describeSamples(xs) : '', missed ? `${missed} of ${all.length} ${never[k] ?? 'not measured'}` : ''].filter(Boolean);
    if (parts.length) notes.push(`${k} ${parts.join(', ')}`);
  }
  return { scenario, unit, values, note: notes.join('; '), ...extra };
}

/** the group's table, or a table that says it failed (the other groups still run) */
async function group(name: string, f: () => Promise<BenchTable>): Promise<BenchTable> {
  progress(`reliability: ${name}`);
  try {
    return await f();
  } catch (e) {
    return { title: `reliability: ${name}: failed`, columns: [], rows: [], notes: [String((e as Error).stack || e)] };
  }
}

async function logkill(vigil: [string, string]): Promise<BenchTable> {
  const runs: Record<Sys, KillStreamResult[]> = { vigil: [], s6: [] };
  const loads: Record<Sys, number[]> = { vigil: [], s6: [] };
  for (let rep = 0; rep < REPS; rep++) {
    for (const kind of order(rep)) {
      const dir = freshDir(`logkill-${kind}-${rep}`);
      loads[kind].push(load1());
      // 1 000 000 lines in about 20 s (500 lines every 10 ms): a kill every ~200 ms, most of them on a logger
      // that is reading (a vigil log starts in ~80 ms)
      const r = await killStream({ kind, lines: LINES, kills: KILLS, batch: LINES / 2000, intervalMs: 10, dir, vigil });
      runs[kind].push(r);
      progress(`  logkill: ${kind} run ${rep + 1}: ${r.kills} kills, lost ${r.lost}, duplicated ${r.duplicated}, out of order ${r.outOfOrder} (load ${loads[kind][rep].toFixed(2)})`);
    }
  }
  const worst = (k: Sys, f: (r: KillStreamResult) => number): number | null => (runs[k].length ? Math.max(...runs[k].map(f)) : null);
  const med = (k: Sys, f: (r: KillStreamResult) => number): number | null => (runs[k].length ? median(runs[k].map(f)) : null);
  const range = (k: Sys, f: (r: KillStreamResult) => number): string => runs[k].map(f).join(', ');
  const rows: BenchRow[] = [
    { scenario: `${KILLS} logger SIGKILLs over ${LINES / 1e6} M lines: lines lost, worst run`, values: { vigil: worst('vigil', (r) => r.lost), s6: worst('s6', (r) => r.lost) }, unit: 'lines', target: '0', met: worst('vigil', (r) => r.lost) === 0 },
    { scenario: `${KILLS} logger SIGKILLs: lines lost, median`, values: { vigil: med('vigil', (r) => r.lost), s6: med('s6', (r) => r.lost) }, unit: 'lines' },
    { scenario: `${KILLS} logger SIGKILLs: lines doubled, worst run`, values: { vigil: worst('vigil', (r) => r.duplicated), s6: worst('s6', (r) => r.duplicated) }, unit: 'lines', target: '0', met: worst('vigil', (r) => r.duplicated) === 0 },
    { scenario: `${KILLS} logger SIGKILLs: lines doubled, median`, values: { vigil: med('vigil', (r) => r.duplicated), s6: med('s6', (r) => r.duplicated) }, unit: 'lines' },
    { scenario: `${KILLS} logger SIGKILLs: kills that hit a running logger, median`, values: { vigil: med('vigil', (r) => r.kills), s6: med('s6', (r) => r.kills) }, unit: 'kills' },
  ];
  return {
    title: `Logger SIGKILLs during a ${LINES / 1e6} M-line stream (t s4000000 n1000), ${REPS} runs each`,
    columns: ['vigil', 's6'],
    rows,
    notes: [
      'vigil = `vigil log t s4000000 n1000 DIR`; s6 = Debian s6-log with the same script; the fifo is held open by the bench (as a scanner holds the log pipe), the logger restarted at once after each kill.',
      `Per run — vigil lost: ${range('vigil', (r) => r.lost)}; doubled: ${range('vigil', (r) => r.duplicated)}. s6-log lost: ${range('s6', (r) => r.lost)}; doubled: ${range('s6', (r) => r.duplicated)}.`,
      `Load average (1 min) at the start of each run — vigil: ${loads.vigil.map((x) => x.toFixed(2)).join(', ')}; s6: ${loads.s6.map((x) => x.toFixed(2)).join(', ')}.`,
      'lost / doubled: numbered lines missing from / found twice in the archives + current. s6-log loses what it had read and not yet written (up to one 8191-byte read and a partial line per kill).',
    ],
  };
}

async function reexec(vigil: [string, string]): Promise<BenchTable> {
  const fault: Sample[] = [];
  const request: Sample[] = [];
  const runs: ReexecRunResult[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    const load = load1();
    const r = await reexecRun(REEXEC_SERVICES, REEXEC_TIMES, { vigil, request: 'fifo' });
    runs.push(r);
    if (r.ms.length) fault.push({ v: r.ms[0], load });
    for (const ms of r.ms.slice(1)) request.push({ v: ms, load });
    progress(`  reexec run ${rep + 1}: ${r.reexecs} re-execs (${r.ms.join(', ')} ms), restarted ${r.restarted}, logdirs not 1..N ${r.badLogs} (load ${load.toFixed(2)})${r.errors.length ? `; ${r.errors.join('; ')}` : ''}`);
  }
  const restarted = runs.reduce((a, r) => a + r.restarted, 0);
  const badLogs = runs.reduce((a, r) => a + r.badLogs, 0);
  const errors = runs.flatMap((r) => r.errors);
  return {
    title: `Supervisor re-exec, ${REEXEC_SERVICES} services (10 logged inside the supervisor), ${REPS} runs of ${REEXEC_TIMES} re-execs`,
    columns: ['vigil', 's6'],
    rows: [
      sampleRow('re-exec after an internal fault (uncaught exception) → every supervision carried over', 'ms', { vigil: fault }),
      sampleRow('re-exec on request (R on .s6-svscan/control) → every supervision carried over', 'ms', { vigil: request }),
      { scenario: `services restarted over all ${runs.reduce((a, r) => a + r.reexecs, 0)} re-execs`, values: { vigil: restarted, s6: null }, unit: 'services', target: '0', met: restarted === 0 },
      { scenario: 'logged writers whose logdir is not exactly 1..N at the end (lines lost or doubled)', values: { vigil: badLogs, s6: null }, unit: 'logdirs', target: '0', met: badLogs === 0 },
    ],
    notes: [
      'vigil svscan with a test-only preloaded fault injector (test/helpers/fault-inject.ts); the first re-exec of each run follows a thrown exception, the others an R byte written by the bench (what `vigil reexec` writes; the client\'s own start is not counted). Time: from the trigger until the new image says "re-executed …: 100 supervisions carried over" on its stderr (polled every 5 ms).',
      's6: no column. s6 has nothing to re-execute: each service has its own s6-supervise, and a fault in one ends that one supervision (s6-svscan starts it again), never the tree.',
      ...(errors.length ? [`errors: ${errors.join('; ')}`] : []),
    ],
  };
}

async function adopt(vigil: [string, string]): Promise<BenchTable> {
  const rows: BenchRow[] = [];
  const perRun: string[] = [];
  for (const n of ADOPT_NS) {
    const ms: Record<Sys, Sample[]> = { vigil: [], s6: [] };
    const copies: Record<Sys, Sample[]> = { vigil: [], s6: [] };
    const changed: Record<Sys, number> = { vigil: 0, s6: 0 };
    const left: Record<Sys, Sample[]> = { vigil: [], s6: [] };
    for (let rep = 0; rep < REPS; rep++) {
      for (const k of order(rep)) {
        const load = load1();
        if (k === 'vigil') {
          const r = await adoptRun(n, { vigil });
          ms.vigil.push({ v: r.adoptMs, load });
          copies.vigil.push({ v: r.processes / n, load });
          changed.vigil += r.changed;
          left.vigil.push({ v: r.leftAfterTerm, load });
          perRun.push(`vigil ${n}: ${r.adoptMs} ms, ${r.processes} processes, ${r.changed} pids changed, ${r.leftAfterTerm} left`);
        } else {
          const r = await s6AdoptRun(n);
          ms.s6.push({ v: r.supervisedMs, load });
          copies.s6.push({ v: r.processes / n, load });
          changed.s6 += r.changed;
          left.s6.push({ v: r.leftAfterTerm, load });
          perRun.push(`s6 ${n}: ${r.supervisedMs} ms, ${r.processes} processes + ${r.supervisors} s6-supervise, ${r.changed} pids changed, ${r.leftAfterTerm} left`);
        }
        progress(`  adopt: ${perRun[perRun.length - 1]} (load ${load.toFixed(2)})`);
      }
    }
    rows.push(
      sampleRow(`${n} services, scanner SIGKILLed and started again → every service supervised again`, 'ms', ms, {}, { vigil: 'not all adopted within 60 s', s6: 'not all supervised within 60 s' }),
      sampleRow(`${n} services: copies of each service after the restart (processes / services)`, '×', copies, { target: '1', met: copies.vigil.every((x) => x.v === 1) }),
      { scenario: `${n} services: pids changed over ${REPS} runs (a restart or a second copy)`, values: { vigil: changed.vigil, s6: changed.s6 }, unit: 'services', target: '0', met: changed.vigil === 0 },
      sampleRow(`${n} services: processes of the tree left 5 s after SIGTERM to the second scanner`, 'processes', left, { target: '0', met: left.vigil.every((x) => x.v === 0) }),
    );
  }
  return {
    title: `Adoption after a SIGKILL of the scanner (${ADOPT_NS.join(' and ')} services), ${REPS} runs each`,
    columns: ['vigil', 's6'],
    rows,
    notes: [
      'Services: `#!/bin/sh` exec-ing `sleep`. vigil: `vigil svscan` SIGKILLed, a second `vigil svscan` over the same directory; time from its spawn until every supervise/vigil-run says "adopted" (polled every 20 ms). s6: `s6-svscan` SIGKILLed, its s6-supervise processes survive (re-parented) and keep supervising; a second s6-svscan over the same directory (its own s6-supervise say "another instance of s6-supervise is already running"); time from its spawn until it listens and every service\'s supervise/control has a reader (s6-svok\'s test). Both scanners get -c N+10.',
      'copies: live service processes (cwd in the tree; s6-supervise not counted) per service after the restart. left: processes of the tree (services, and s6-supervise for s6) 5 s after SIGTERM to the second scanner: the surviving s6-supervise are not its children, so it does not stop them.',
      `Per run: ${perRun.join('; ')}.`,
    ],
  };
}

async function fuzz(vigil: [string, string]): Promise<BenchTable> {
  const up: Record<Sys, Sample[]> = { vigil: [], s6: [] };
  const hwm: Record<Sys, Sample[]> = { vigil: [], s6: [] };
  const hwmAll: Record<Sys, Sample[]> = { vigil: [], s6: [] };
  const stopMs: Record<Sys, Sample[]> = { vigil: [], s6: [] };
  let trees = '';
  const problems: string[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    for (const k of order(rep)) {
      const load = load1();
      if (k === 'vigil') {
        const r = await fuzzRun({ good: 20, settleMs: FUZZ_SETTLE_MS, vigil });
        trees = `${r.bad} bad + ${r.good} good`;
        up.vigil.push({ v: r.upMs, load });
        hwm.vigil.push({ v: r.hwmBytes / MB, load });
        hwmAll.vigil.push({ v: r.hwmBytes / MB, load });
        stopMs.vigil.push({ v: r.stopMs, load });
        if (r.unsaid.length || r.notOnce.length || r.badLines.length || !r.goodStillUp) {
          problems.push(`vigil run ${rep + 1}: never said ${r.unsaid.length}, not said once ${r.notOnce.length}, bad lines ${r.badLines.length}, good still up ${r.goodStillUp}`);
        }
        progress(`  fuzz: vigil: good up in ${r.upMs} ms, peak RSS ${(r.hwmBytes / MB).toFixed(1)} MB, SIGTERM → exit ${r.stopMs} ms (load ${load.toFixed(2)})`);
      } else {
        const r = await s6FuzzRun({ good: 20, settleMs: FUZZ_SETTLE_MS, upWaitMs: S6_FUZZ_UP_WAIT_MS, stopWaitMs: S6_FUZZ_STOP_WAIT_MS });
        up.s6.push({ v: r.upMs, load });
        hwm.s6.push({ v: r.scannerHwmBytes / MB, load });
        hwmAll.s6.push({ v: r.allHwmBytes / MB, load });
        stopMs.s6.push({ v: r.stopMs, load });
        progress(`  fuzz: s6: good up in ${r.upMs} ms, peak RSS s6-svscan ${(r.scannerHwmBytes / MB).toFixed(1)} MB, with ${r.supervisors} s6-supervise ${(r.allHwmBytes / MB).toFixed(1)} MB, SIGTERM → exit ${r.stopMs} ms (load ${load.toFixed(2)})`);
      }
    }
  }
  return {
    title: `Hostile service directories (${trees}), ${REPS} runs each`,
    columns: ['vigil', 's6'],
    rows: [
      sampleRow('scanner started → the 20 good services up', 'ms', up, { target: '< 5000', met: up.vigil.length > 0 && up.vigil.every((x) => x.v >= 0 && x.v < 5000) },
        { vigil: 'not up within 10 s', s6: `not up within ${S6_FUZZ_UP_WAIT_MS / 1000} s` }),
      sampleRow('peak RSS of the scanner process (VmHWM)', 'MB', hwm, { target: '< 100', met: hwm.vigil.length > 0 && hwm.vigil.every((x) => x.v < 100) }),
      sampleRow('peak RSS summed over the supervision processes (s6: s6-svscan + every s6-supervise alive)', 'MB', hwmAll),
      sampleRow('SIGTERM → scanner exited', 'ms', stopMs, { target: '< 1000', met: stopMs.vigil.length > 0 && stopMs.vigil.every((x) => x.v >= 0 && x.v < 1000) },
        { vigil: 'not exited within 5 s', s6: `not exited within ${S6_FUZZ_STOP_WAIT_MS / 1000} s` }),
    ],
    notes: [
      'The tree of test/helpers/fuzztree.ts on a tmpfs (/dev/shm): every config file in binary garbage, 4 KiB and 10 MB, directories, fifos, looping symlinks, out-of-range numbers; log-dir into /proc, /sys, /dev; supervise/event not directories; run missing, not executable, a directory, a fifo, 10 MB of garbage; dangling and looping service symlinks; names with a newline, 255 bytes, control bytes.',
      `Peak RSS read ${FUZZ_SETTLE_MS} ms after vigil had said a line for every bad service, and ${FUZZ_SETTLE_MS} ms after s6's good services were up; s6-supervise processes that had already exited are not in the sum, and RSS counts shared libc pages once per process.`,
      's6-svscan starts one s6-supervise per entry in directory order (on tmpfs the good ones, made first, come last), and rescans about once a second while the s6-supervise that fail (supervise not a directory, ...) die and are started again. On SIGTERM it waits for its s6-supervise processes; those of services with an invalid down-signal never stop their service.',
      ...(problems.length ? [`vigil problems: ${problems.join('; ')}`] : []),
    ],
  };
}

/** BENCH_RELIABILITY=logkill,reexec,adopt,fuzz picks some of the groups (default: all) */
export async function benchReliability(): Promise<BenchTable[]> {
  const vigil: [string, string] = [node20(), frozenVigil()];
  const pick = (process.env.BENCH_RELIABILITY || 'logkill,reexec,adopt,fuzz').split(',');
  const groups: [string, string, () => Promise<BenchTable>][] = [
    ['logkill', 'logger SIGKILLs', () => logkill(vigil)],
    ['reexec', 're-exec', () => reexec(vigil)],
    ['adopt', 'adoption after a kill', () => adopt(vigil)],
    ['fuzz', 'hostile tree', () => fuzz(vigil)],
  ];
  const out: BenchTable[] = [];
  for (const [key, name, f] of groups) if (pick.includes(key)) out.push(await group(name, f));
  return out;
}
