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
 *   - pm2:    pm2-runtime with the same 10 programs as apps (installed with npm into a cache dir under
 *             os.tmpdir() at bench time, never a project dependency; skipped with a note if it cannot be installed)
 * Every service is `sh` that writes "svc-N" to an event fifo and execs `sleep`; rc.init writes "stage2-done".
 * The clock starts just before spawning unshare and stops when the bench reads the event line.
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

/** vigil-nlw: vigil init --no-logger-wait; node: bare `node -e` writing the 11 events itself (the floor) */
type System = 'vigil' | 'vigil-nlw' | 's6' | 'pm2' | 'node';

interface Sample { stage2: number | null; allUp: number }

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

/** One container boot of `sys`; resolves with ms to stage 2 done / all services up. */
async function containerBoot(sys: System, timeoutMs = 20000): Promise<Sample> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `vigil-bench-${sys}-`));
  const ev = path.join(work, 'events');
  execFileSync('mkfifo', ['-m', '0666', ev]);
  const base = path.join(work, 'base');
  const run = path.join(work, 'run');
  fs.mkdirSync(run);
  makeBasedir(base, ev);
  let argv: string[];
  // the same small environment for every system (no user PATH with version-manager shims to search)
  const env: NodeJS.ProcessEnv = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: work };
  if (sys === 'vigil' || sys === 'vigil-nlw') {
    argv = [NODE, path.join(REPO, 'bin', 'vigil'), 'init', '--container', '--basedir', base, '--rundir', run];
    if (sys === 'vigil-nlw') argv.push('--no-logger-wait');
  } else if (sys === 'node') {
    const lines = ['stage2-done', ...Array.from({ length: NSERVICES }, (_, i) => `svc-${i + 1}`)].join('\n') + '\n';
    argv = [NODE, '-e', `require('fs').writeFileSync(${JSON.stringify(ev)}, ${JSON.stringify(lines)}); setInterval(() => {}, 1e9)`];
  } else if (sys === 's6') {
    const st1 = path.join(work, 's6-stage1');
    s6Stage1(st1);
    argv = [st1, run, base];
  } else {
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

  // O_RDWR: never blocks the writers' opens, never sees EOF between them
  const fd = fs.openSync(ev, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  const sock = new net.Socket({ fd, readable: true, writable: false });
  const seen = new Set<string>();
  let stage2: number | null = null;
  let allUp = -1;
  const t0 = performance.now();
  const child = spawn('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child=SIGKILL', ...argv], {
    stdio: ['ignore', 'ignore', 'pipe'], env, detached: true,
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  try {
    await new Promise<void>((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => reject(new Error(`${sys}: not booted within ${timeoutMs} ms (seen: ${[...seen].join(' ') || 'nothing'})\n${stderr.slice(-2000)}`)), timeoutMs);
      const check = (): void => {
        const services = [...seen].filter((s) => s.startsWith('svc-')).length;
        if (services === NSERVICES && (sys === 'pm2' || stage2 !== null)) {
          allUp = performance.now() - t0;
          clearTimeout(timer);
          resolve();
        }
      };
      sock.on('data', (d: Buffer) => {
        const now = performance.now() - t0;
        buf += d.toString();
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line === 'stage2-done' && stage2 === null) stage2 = now;
          seen.add(line);
        }
        check();
      });
      child.on('close', (code) => { clearTimeout(timer); reject(new Error(`${sys}: exited (${code}) before booting\n${stderr.slice(-2000)}`)); });
    });
    return { stage2, allUp };
  } finally {
    await stopNamespace(child);
    sock.destroy();
    fs.rmSync(work, { recursive: true, force: true });
  }
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
  const systems: System[] = ['vigil', 's6', 'vigil-nlw', 'node'];
  if (pm2Runtime()) systems.push('pm2');
  else notes.push(pm2Note);
  const res: Record<System, Sample[]> = { vigil: [], 'vigil-nlw': [], s6: [], pm2: [], node: [] };
  const failed: Partial<Record<System, string>> = {};
  // one warm-up each (page cache), then interleaved runs
  for (let i = -1; i < runs; i++) {
    for (const sys of systems) {
      if (failed[sys]) continue;
      try {
        const s = await containerBoot(sys);
        if (i >= 0) res[sys].push(s);
        progress(`${sys} run ${i + 1}/${runs}: stage2 ${s.stage2 === null ? '-' : r1(s.stage2)} ms, ${NSERVICES} services up ${r1(s.allUp)} ms`);
      } catch (e) {
        failed[sys] = (e as Error).message;
        progress(`${sys} failed: ${(e as Error).message}`);
        notes.push(`${sys} container boot failed: ${(e as Error).message.split('\n')[0]}`);
      }
    }
  }
  const med = (sys: System, k: keyof Sample): number | null => {
    const xs = res[sys].map((s) => s[k]).filter((x): x is number => x !== null);
    return xs.length ? r1(median(xs)) : null;
  };
  const rng = (k: keyof Sample): string => systems.filter((s) => s !== 'node').map((s) => `${s} ${spread(res[s].map((x) => x[k]).filter((x): x is number => x !== null))}`).join(', ');
  if (pm2Note && systems.includes('pm2')) notes.push(pm2Note);
  return [
    { scenario: 'container boot: start → stage 2 done', vigil: med('vigil', 'stage2'), s6: med('s6', 'stage2'), other: null, unit: 'ms', note: `median of ${runs}; range ${rng('stage2')}; pm2 has no stage 2` },
    { scenario: `container boot: start → stage 2 done and ${NSERVICES} services up`, vigil: med('vigil', 'allUp'), s6: med('s6', 'allUp'), other: systems.includes('pm2') ? med('pm2', 'allUp') : null, unit: 'ms', note: `median of ${runs}; range ${rng('allUp')}; floor: bare node under unshare writing the same 11 events ${med('node', 'allUp')} ms` },
    { scenario: `container boot, vigil --no-logger-wait: start → stage 2 done and ${NSERVICES} services up`, vigil: med('vigil-nlw', 'allUp'), s6: null, other: null, unit: 'ms', note: `median of ${runs}` },
  ];
}

async function qemuRows(runs: number, notes: string[]): Promise<Row[]> {
  let prepared;
  try {
    prepared = prepareBoot('vigil');
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

export async function benchBoot(): Promise<Table> {
  const notes: string[] = [];
  const quick = process.env.BENCH_QUICK === '1';
  const runs = quick ? 3 : Math.max(5, Number(process.env.VIGIL_BENCH_RUNS || 7));
  const qruns = quick ? 1 : Math.max(1, Number(process.env.VIGIL_BENCH_QEMU_RUNS || 5));
  const rows = [...await containerRows(runs, notes)];
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
