/**
 * Service-manager benchmarks (issue 8, item 8), run by bench/run.ts (`npm run bench -- rc`): vigil's engine
 * next to s6-rc 0.5.4.1, same machine, same run, systems interleaved, median of RC_RUNS (default 7, at least
 * 5; 2 with BENCH_QUICK=1) with the range.
 *
 * Scenarios, each a `change` up then a `change -d` of the same name (both timed) from all-down:
 *   oneshots10  a chain of 10 oneshots (each depends on the previous; up and down are /bin/true)
 *   longruns10  a chain of 10 longruns (run: a static program that pauses; no notification-fd, so up = spawned)
 *   alt20       a chain of 20 alternating oneshot, longrun, oneshot...
 *   dag1000     a random DAG of 1000 services (a third longruns, the rest oneshots; up to 3 dependencies each)
 * Columns:
 *   vigil engine  `change` sent over LIVE/rc.sock by this process (the protocol `vigil rc` speaks) → answer:
 *                 the service manager's own time, no client start-up
 *   vigil rc      the whole `vigil rc -u change NAME` command (a Node process: its start-up is in the figure)
 *   s6-rc         the whole `s6-rc -u change NAME` command (C, starts in ~1 ms; every oneshot goes through
 *                 s6-sudo → s6-sudod → s6-rc-oneshot-run, every longrun through s6-svc → s6-svlisten1)
 * The per-transition floor (fork+exec of /bin/true from Node through the shim, its exit seen through SIGCHLD and
 * the reaper, as the engine sees a oneshot end) is printed beside them.
 *
 * s6-rc is found through S6RC_PREFIX (its bin/ holds s6-rc, s6-rc-compile, s6-rc-init) or /opt/s6-rc; it is
 * built from the mirrored source, never part of this repository. Missing: one row says so.
 */
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { BenchRow, BenchTable } from './lib/table';
import { fmt, median, spread } from './lib/stats';
import { freshDir, servicePrograms } from './lib/scandir';
import { frozenVigil, launch, Launched, logTail, node20, progress, stop, which } from './lib/sup';
import { sleep, waitFor } from './lib/wait';

const QUICK = process.env.BENCH_QUICK === '1';
const RUNS = QUICK ? 2 : Math.max(5, Number(process.env.RC_RUNS || 7));
/** the anchors measured here with s6-rc 0.5.4.1 (issue 8): up / down, ms */
const ANCHOR: Record<string, [number, number]> = { oneshots10: [47.5, 43.5], longruns10: [67.7, 56.7], alt20: [112, 93] };

type Spec = Record<string, { type: 'oneshot' | 'longrun' | 'bundle'; deps?: string[]; contents?: string[] }>;

function s6rcBin(): string | null {
  const prefix = process.env.S6RC_PREFIX || '/opt/s6-rc';
  const bin = path.join(prefix, 'bin');
  return fs.existsSync(path.join(bin, 's6-rc')) && fs.existsSync(path.join(bin, 's6-rc-compile')) ? bin : null;
}

function chain(kinds: Array<'oneshot' | 'longrun'>): Spec {
  const spec: Spec = {};
  kinds.forEach((k, i) => {
    spec[`c${String(i + 1).padStart(2, '0')}`] = { type: k, deps: i ? [`c${String(i).padStart(2, '0')}`] : [] };
  });
  spec.top = { type: 'bundle', contents: [`c${String(kinds.length).padStart(2, '0')}`] };
  return spec;
}

function dag(n: number): Spec {
  let x = 1000003;
  const rnd = () => ((x = (x * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const spec: Spec = {};
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = `d${String(i).padStart(4, '0')}`;
    const deps = new Set<string>();
    const k = Math.floor(rnd() * 4);
    for (let j = 0; j < k && i > 0; j++) deps.add(names[Math.floor(rnd() * i)]);
    spec[name] = { type: i % 3 === 0 ? 'longrun' : 'oneshot', deps: [...deps] };
    names.push(name);
  }
  spec.top = { type: 'bundle', contents: names };
  return spec;
}

const SCENARIOS: Array<{ name: string; label: string; spec: Spec }> = [
  { name: 'oneshots10', label: '10 chained oneshots', spec: chain(Array(10).fill('oneshot')) },
  { name: 'longruns10', label: '10 chained longruns', spec: chain(Array(10).fill('longrun')) },
  { name: 'alt20', label: '20 alternating (oneshot, longrun, …)', spec: chain(Array.from({ length: 20 }, (_, i) => (i % 2 ? 'longrun' : 'oneshot'))) },
  { name: 'dag1000', label: '1000-service random DAG', spec: dag(1000) },
];

function writeSources(dir: string, spec: Spec): void {
  const pause = servicePrograms().pause;
  for (const [name, s] of Object.entries(spec)) {
    const d = path.join(dir, name);
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, 'type'), `${s.type}\n`);
    if (s.type === 'bundle') {
      fs.mkdirSync(path.join(d, 'contents.d'));
      for (const c of s.contents ?? []) fs.writeFileSync(path.join(d, 'contents.d', c), '');
      continue;
    }
    fs.mkdirSync(path.join(d, 'dependencies.d'));
    for (const dep of s.deps ?? []) fs.writeFileSync(path.join(d, 'dependencies.d', dep), '');
    if (s.type === 'oneshot') {
      fs.writeFileSync(path.join(d, 'up'), '/bin/true\n');
      fs.writeFileSync(path.join(d, 'down'), '/bin/true\n');
    } else {
      fs.copyFileSync(pause, path.join(d, 'run'));
      fs.chmodSync(path.join(d, 'run'), 0o755);
    }
  }
}

/** run a program to completion; ms of wall time (spawn to exit), throws on a non-zero exit */
function timed(argv: string[], env: NodeJS.ProcessEnv = process.env, ms = 300000): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    execFile(argv[0], argv.slice(1), { env, timeout: ms, killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (err, _out, stderr) => {
      const dt = Number(process.hrtime.bigint() - t0) / 1e6;
      if (err) reject(new Error(`${argv.slice(0, 4).join(' ')}…: ${String(stderr).trim().split('\n').slice(-2).join(' | ') || err.message}`));
      else resolve(dt);
    });
  });
}

/** `change` over the control socket, as `vigil rc` sends it (no fds: oneshots write to the tree's log) */
function engine(live: string, up: boolean, name: string, ms = 300000): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const c = net.connect(path.join(live, 'rc.sock'));
    let got = '';
    const timer = setTimeout(() => {
      c.destroy();
      reject(new Error(`engine change ${name}: no answer in ${ms} ms`));
    }, ms);
    c.on('data', (b) => {
      got += b;
      const m = /\{"t":"exit","code":([0-9]+)\}/.exec(got);
      if (!m) return;
      const dt = Number(process.hrtime.bigint() - t0) / 1e6;
      clearTimeout(timer);
      c.destroy();
      if (m[1] !== '0') reject(new Error(`engine change ${name}: exit ${m[1]}: ${got.slice(0, 300)}`));
      else resolve(dt);
    });
    c.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    c.write(`${JSON.stringify({
      v: 1, cmd: 'change', names: [name], up, force: false, prune: false, all: false, block: false, rerun: false, json: false, timeout: 0, verbosity: 1, dryrun: null,
    })}\n`);
  });
}

/**
 * One oneshot's floor: fork+exec of /bin/true through the shim, then its exit seen the way the engine sees it
 * (SIGCHLD → the reaper's waitpid → the exit callback on the event loop). Median of 60, in a fresh Node.
 */
function floorMs(): number {
  const dist = path.join(path.dirname(frozenVigil()), '..', 'dist', 'src', 'sys');
  const script = `
    const { native } = require(${JSON.stringify(path.join(dist, 'native.js'))});
    const reaper = require(${JSON.stringify(path.join(dist, 'reaper.js'))});
    reaper.installReaper();
    const keep = setInterval(() => {}, 1 << 30); // a SIGCHLD listener does not hold the loop open: without this, Node exits 0 mid-wait
    (async () => {
      const xs = [];
      for (let i = 0; i < 60; i++) {
        await new Promise((done) => {
          const t0 = process.hrtime.bigint();
          const pid = native().spawn('/bin/true', ['true'], [], [0, 1, 2], {});
          reaper.onExit(pid, () => { xs.push(Number(process.hrtime.bigint() - t0) / 1e6); done(); });
        });
      }
      xs.sort((a, b) => a - b);
      process.stdout.write(String(xs[xs.length >> 1]));
      process.exit(0);
    })();`;
  const out = execFileSync(node20(), ['-e', script], { encoding: 'utf8', timeout: 60000 });
  if (!/^\d/.test(out)) throw new Error(`floor: no figure from the measuring process (${JSON.stringify(out)})`);
  return Number(out);
}

interface Trees {
  vigil: Launched;
  vigilLive: string;
  s6: Launched | null;
  s6Live: string;
}

async function setUp(sc: (typeof SCENARIOS)[number], s6bin: string | null): Promise<Trees> {
  const root = freshDir(`rc-${sc.name}`);
  const src = path.join(root, 'src');
  writeSources(src, sc.spec);
  // vigil: svscan --rc over RUNDIR/service
  const vrun = path.join(root, 'vigil-run');
  fs.mkdirSync(path.join(vrun, 'service'), { recursive: true });
  const vigil = await launch('vigil', [node20(), '--max-semi-space-size=1', '--no-memory-reducer', frozenVigil(), 'svscan', '-c', '4000', '--rc', src, path.join(vrun, 'service')], vrun);
  const vigilLive = path.join(vrun, 's6-rc');
  await waitFor(`vigil's control socket (${logTail(vigil)})`, () => fs.existsSync(path.join(vigilLive, 'rc.sock')) || null, 60000, 20);
  await sleep(300);
  let s6: Launched | null = null;
  const s6Live = path.join(root, 's6-live');
  if (s6bin) {
    const scandir = path.join(root, 's6-service');
    fs.mkdirSync(scandir);
    s6 = await launch('s6', [which('s6-svscan'), '-c', '4000', scandir], root);
    execFileSync(path.join(s6bin, 's6-rc-compile'), [path.join(root, 's6-compiled'), src], { stdio: 'pipe', timeout: 120000 });
    execFileSync(path.join(s6bin, 's6-rc-init'), ['-c', path.join(root, 's6-compiled'), '-l', s6Live, '-t', '60000', scandir], { stdio: 'pipe', timeout: 120000 });
  }
  return { vigil, vigilLive, s6, s6Live };
}

export async function benchRc(): Promise<BenchTable[]> {
  const s6bin = s6rcBin();
  const notes: string[] = [];
  const env = s6bin ? { ...process.env, PATH: `${s6bin}:${process.env.PATH}` } : process.env;
  // s6-rc's oneshot runner finds s6-rc-oneshot-run through the PATH of s6-svscan's environment
  if (s6bin) process.env.PATH = env.PATH;
  const floor = floorMs();
  progress(`rc: per-transition floor (fork+exec+reap of /bin/true) ${fmt(floor)} ms`);
  const rows: BenchRow[] = [];
  for (const sc of SCENARIOS) {
    if (QUICK && sc.name === 'dag1000' && process.env.RC_DAG !== '1') continue;
    progress(`rc: ${sc.label}: setting up`);
    const trees = await setUp(sc, s6bin);
    const res: Record<string, { up: number[]; down: number[] }> = { engine: { up: [], down: [] }, cli: { up: [], down: [] }, s6rc: { up: [], down: [] } };
    const vigilCli = (up: boolean) => timed([node20(), frozenVigil(), 'rc', '-l', trees.vigilLive, up ? '-u' : '-d', 'change', 'top'], env);
    try {
      for (let r = 0; r < RUNS; r++) {
        // interleaved: each system in turn, rotating who goes first
        const order = ['engine', 'cli', 's6rc'].filter((s) => s !== 's6rc' || trees.s6);
        for (let k = 0; k < r % order.length; k++) order.push(order.shift()!);
        for (const sys of order) {
          for (const up of [true, false]) {
            let ms: number;
            if (sys === 'engine') ms = await engine(trees.vigilLive, up, 'top');
            else if (sys === 'cli') ms = await vigilCli(up);
            else ms = await timed([path.join(s6bin!, 's6-rc'), '-l', trees.s6Live, up ? '-u' : '-d', 'change', 'top'], env);
            res[sys][up ? 'up' : 'down'].push(ms);
            await sleep(50);
          }
        }
        progress(`rc: ${sc.name} run ${r + 1}/${RUNS}: engine ${fmt(res.engine.up[r])}/${fmt(res.engine.down[r])} ms, vigil rc ${fmt(res.cli.up[r])}/${fmt(res.cli.down[r])}${trees.s6 ? `, s6-rc ${fmt(res.s6rc.up[r])}/${fmt(res.s6rc.down[r])}` : ''}`);
      }
    } catch (e) {
      notes.push(`${sc.name}: failed: ${(e as Error).message}`);
    } finally {
      await stop(trees.vigil);
      if (trees.s6) await stop(trees.s6);
    }
    for (const dir of ['up', 'down'] as const) {
      const v = (k: string) => (res[k][dir].length ? median(res[k][dir]) : null);
      const anchor = ANCHOR[sc.name]?.[dir === 'up' ? 0 : 1];
      const s6v = v('s6rc');
      const eng = v('engine');
      const target = sc.name === 'dag1000' ? (dir === 'up' ? '< 2000 ms' : undefined) : '≤ ½ s6-rc';
      const met = sc.name === 'dag1000'
        ? dir === 'up' && eng !== null ? eng < 2000 : undefined
        : eng !== null && s6v !== null ? eng <= s6v / 2 : undefined;
      rows.push({
        scenario: `${sc.label}: ${dir === 'up' ? '-u' : '-d'} change`,
        values: { 'vigil engine': eng, 's6': s6v, 'vigil rc': v('cli') },
        unit: 'ms',
        target,
        met,
        note: [
          `engine ${spread(res.engine[dir])}`, `vigil rc ${spread(res.cli[dir])}`,
          s6v !== null ? `s6-rc ${spread(res.s6rc[dir])}` : 's6-rc not measured',
          anchor !== undefined ? `issue anchor ${anchor}` : '',
        ].filter(Boolean).join('; '),
      });
    }
  }
  notes.unshift(
    `Median of ${RUNS} runs per system, interleaved (the first system rotates each run), each run an up then a down from all-down; ranges in the notes.`,
    `vigil engine: the change sent over LIVE/rc.sock by the bench (what vigil rc sends) → its answer; vigil rc: the whole \`vigil rc -u change top\` command, Node start-up included; s6: the whole \`s6-rc -u change top\` command (s6-rc 0.5.4.1).`,
    `Per-transition floor: fork+exec of /bin/true through the shim and its exit seen through SIGCHLD → waitpid → the exit callback, from Node: ${fmt(floor)} ms (median of 60).`,
    `Oneshots: up and down are /bin/true; longruns: ${servicePrograms().kind} without notification-fd (up = spawned, down = down and finish done).`,
  );
  if (!s6bin) notes.push('s6-rc not found (set S6RC_PREFIX to a prefix whose bin/ holds s6-rc, s6-rc-compile, s6-rc-init; default /opt/s6-rc): the s6 column is empty.');
  return [{ title: 'Service manager: `change` up and down (vigil engine vs s6-rc 0.5.4.1)', columns: ['vigil engine', 's6', 'vigil rc'], rows, notes }];
}
