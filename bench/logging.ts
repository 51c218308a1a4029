/**
 * Logging benchmarks (issue 3 §6), vigil next to Debian's s6-log and runit's svlogd in the same run:
 *
 * 1. throughput: 200 MB (BENCH_QUICK=1: 16 MB) of 80-byte lines and of 4 KiB lines piped (`cat FILE |`) into
 *    the logger with `t` + rotation at 1 MB: MB/s, lines/s, CPU per MB (user+sys of the logger alone, GNU
 *    time), lines lost. Archives are kept (n1000: nothing is trimmed) so every line can be counted: lost =
 *    lines in − lines found in the archives + current. svlogd: `-tt`-free `-t` (TAI64N) with `s1000000`,
 *    `n1000` in its config and `-l 4200 -b 8192` so 4 KiB lines are not cut.
 * 2. in-supervisor logging: one service `cat FILE` under `vigil svscan` with log-dir (script t s1000000
 *    n1000) vs the same service under s6-svscan with a log/ running s6-log: time from `svc -u` until cat has
 *    written everything (the pipe and the engine's cap hold < 0.4 MB then), CPU per MB of the scanner process
 *    (vigil) / of s6-log (s6).
 * 3. memory of 100 logged services (each prints one line, then sleeps): PSS of one `vigil svscan` doing
 *    in-supervisor logging vs s6-svscan + 200 s6-supervise + 100 s6-log. The services are not counted.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { BenchTable, BenchRow } from './lib/table';
import { benchRoot, freshDir } from './lib/scandir';
import { frozenVigil, node20, progress, which } from './lib/sup';
import { memSum, treeOf, statOf } from './lib/proc';
import { sleep, waitFor } from './lib/wait';

const QUICK = process.env.BENCH_QUICK === '1';
const TOTAL = (QUICK ? 16 : 200) * 1000 * 1000;
const HZ = 100;
/** repetitions, interleaved (vigil, s6, svlogd, vigil, ...); the median run (by MB/s) is reported */
const REPS = QUICK ? 1 : 5; // the brief: medians of at least 5

function medianRun(rs: Array<Run | null>): Run | null {
  const ok = rs.filter((r): r is Run => r !== null).sort((a, b) => a.mbps - b.mbps);
  if (!ok.length) return null;
  const m = ok[Math.floor((ok.length - 1) / 2)];
  // lines lost: the worst run counts
  return { ...m, lost: Math.max(...ok.map((r) => r.lost)) };
}

function makeInput(lineLen: number): { file: string; lines: number; bytes: number } {
  const file = path.join(benchRoot(), `input-${lineLen}.txt`);
  const lines = Math.floor(TOTAL / lineLen);
  if (!fs.existsSync(file)) {
    const fd = fs.openSync(file, 'w');
    const per = Math.max(1, Math.floor((1 << 20) / lineLen));
    const chunk: string[] = [];
    for (let i = 0; i < lines; i++) {
      const head = `line ${String(i).padStart(10, '0')} `;
      chunk.push(head + 'x'.repeat(lineLen - head.length - 1) + '\n');
      if (chunk.length === per) {
        fs.writeSync(fd, chunk.join(''));
        chunk.length = 0;
      }
    }
    if (chunk.length) fs.writeSync(fd, chunk.join(''));
    fs.closeSync(fd);
  }
  return { file, lines, bytes: lines * lineLen };
}

/** newlines in every archive + current of a logdir (s6-log/vigil: @*.s/.u; svlogd: @*.s/.u too) */
function countLines(dir: string): number {
  let n = 0;
  const buf = Buffer.allocUnsafe(1 << 20);
  for (const name of fs.readdirSync(dir)) {
    if (!(name === 'current' || /^@[0-9a-f]{24}\.[su]$/.test(name))) continue;
    const fd = fs.openSync(path.join(dir, name), 'r');
    for (;;) {
      const r = fs.readSync(fd, buf, 0, buf.length, null);
      if (r <= 0) break;
      for (let i = buf.indexOf(10, 0); i !== -1 && i < r; i = buf.indexOf(10, i + 1)) n++;
    }
    fs.closeSync(fd);
  }
  return n;
}

interface Run { mbps: number; lps: number; cpuPerMb: number; lost: number }

function pipeThrough(label: string, argv: string[], input: { file: string; lines: number; bytes: number }, logdir: string): Run | null {
  const timeOut = path.join(benchRoot(), `time-${label}-${path.basename(logdir)}.txt`);
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const cmd = `cat ${q(input.file)} | /usr/bin/time -f '%U %S' -o ${q(timeOut)} ${argv.map(q).join(' ')}`;
  const t0 = process.hrtime.bigint();
  const r = spawnSync('sh', ['-c', cmd], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 600000 });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) {
    progress(`  ${label}: exit ${r.status} ${r.signal ?? ''} ${String(r.stderr).slice(0, 300)}`);
    return null;
  }
  const [u, s] = fs.readFileSync(timeOut, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  const got = countLines(logdir);
  const mb = input.bytes / 1e6;
  return { mbps: mb / secs, lps: input.lines / secs, cpuPerMb: ((u + s) * 1000) / mb, lost: Math.max(0, input.lines - got) };
}

function cpuTicks(pid: number): number {
  try {
    const t = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = t.slice(t.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

function launchBg(argv: string[], cwd: string): ChildProcess {
  const log = fs.openSync(path.join(benchRoot(), `bg-${path.basename(cwd)}.log`), 'a');
  const c = spawn(argv[0], argv.slice(1), { cwd, detached: true, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  return c;
}

function killAll(c: ChildProcess): void {
  if (!c.pid) return;
  for (const p of treeOf(c.pid).reverse()) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

async function exitOf(c: ChildProcess, ms: number): Promise<boolean> {
  if (c.exitCode !== null || c.signalCode !== null) return true;
  return Promise.race([new Promise<boolean>((r) => c.once('exit', () => r(true))), sleep(ms).then(() => false)]);
}

/** one service `cat FILE` under a scanner; returns MB/s until cat is done, CPU ms per MB of the logging process */
async function supervised(kind: 'vigil' | 's6', input: { file: string; lines: number; bytes: number }): Promise<Run | null> {
  const root = freshDir(`inlog-${kind}`);
  const sd = path.join(root, 'sd');
  const svc = path.join(sd, 'w');
  const logs = path.join(root, 'logs');
  const done = path.join(root, 'done');
  fs.mkdirSync(svc, { recursive: true });
  fs.writeFileSync(path.join(svc, 'down'), '');
  fs.writeFileSync(path.join(svc, 'run'), `#!/bin/sh\ncat '${input.file}'\ntouch '${done}'\nexec sleep 1000000\n`, { mode: 0o755 });
  if (kind === 'vigil') {
    fs.writeFileSync(path.join(svc, 'log-dir'), `${logs}\n`);
    fs.writeFileSync(path.join(svc, 'log-script'), 't\ns1000000\nn1000\n');
  } else {
    fs.mkdirSync(path.join(svc, 'log'));
    fs.writeFileSync(path.join(svc, 'log', 'run'), `#!/bin/sh\nexec s6-log t s1000000 n1000 '${logs}'\n`, { mode: 0o755 });
  }
  const argv = kind === 'vigil' ? [node20(), frozenVigil(), 'svscan', sd] : [which('s6-svscan'), sd];
  const c = launchBg(argv, root);
  try {
    await waitFor(`${kind}: supervise/status`, () => fs.existsSync(path.join(svc, 'supervise', 'status')) && fs.existsSync(path.join(logs, 'lock')), 10000, 10);
    const loggerPid = (): number => {
      if (kind === 'vigil') return c.pid!;
      return treeOf(c.pid!).find((p) => statOf(p)?.comm === 's6-log') ?? 0;
    };
    await waitFor(`${kind}: logger process`, () => loggerPid() > 0, 10000, 10);
    const lp = loggerPid();
    const cpu0 = cpuTicks(lp);
    const t0 = process.hrtime.bigint();
    spawnSync(which('s6-svc'), ['-u', svc]);
    await waitFor(`${kind}: cat done`, () => fs.existsSync(done), 600000, 5);
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = (cpuTicks(lp) - cpu0) / HZ;
    // stop: the scanner brings the service down and the logger drains
    if (kind === 'vigil') process.kill(c.pid!, 'SIGTERM');
    else spawnSync(which('s6-svscanctl'), ['-t', sd]);
    if (!(await exitOf(c, 60000))) progress(`  ${kind}: scanner did not stop in 60 s`);
    const mb = input.bytes / 1e6;
    return { mbps: mb / secs, lps: input.lines / secs, cpuPerMb: (cpu * 1000) / mb, lost: Math.max(0, input.lines - countLines(logs)) };
  } catch (e) {
    progress(`  ${kind}: ${(e as Error).message}`);
    return null;
  } finally {
    killAll(c);
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** PSS (MB) of the supervision + logging processes of N logged services */
async function memory(kind: 'vigil' | 's6', n: number): Promise<{ pss: number; procs: number } | null> {
  const root = freshDir(`logmem-${kind}`);
  const sd = path.join(root, 'sd');
  const logs = path.join(root, 'logs');
  fs.mkdirSync(logs, { recursive: true }); // s6-log does not create parent directories
  fs.mkdirSync(sd, { recursive: true });
  for (let i = 0; i < n; i++) {
    const d = path.join(sd, `s${i}`);
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, 'run'), '#!/bin/sh\necho hello\nexec sleep 1000000\n', { mode: 0o755 });
    if (kind === 'vigil') fs.writeFileSync(path.join(d, 'log-dir'), `${logs}/s${i}\n`);
    else {
      fs.mkdirSync(path.join(d, 'log'));
      fs.writeFileSync(path.join(d, 'log', 'run'), `#!/bin/sh\nexec s6-log t '${logs}/s${i}'\n`, { mode: 0o755 });
    }
  }
  const argv = kind === 'vigil' ? [node20(), frozenVigil(), 'svscan', '-c', String(4 * n), sd] : [which('s6-svscan'), '-c', String(4 * n), sd];
  const c = launchBg(argv, root);
  try {
    await waitFor(`${kind}: ${n} services logged`, () => {
      for (let i = 0; i < n; i++) {
        try {
          if (fs.statSync(path.join(logs, `s${i}`, 'current')).size === 0) return false;
        } catch {
          return false;
        }
      }
      return true;
    }, 60000, 50);
    await sleep(1000);
    const keep = kind === 'vigil' ? new Set(['node', path.basename(node20())]) : new Set(['s6-svscan', 's6-supervise', 's6-log']);
    const pids = kind === 'vigil' ? [c.pid!] : treeOf(c.pid!).filter((p) => keep.has(statOf(p)?.comm ?? ''));
    return { pss: memSum(pids).pss / 1024, procs: pids.length };
  } catch (e) {
    progress(`  ${kind} memory: ${(e as Error).message}`);
    return null;
  } finally {
    try {
      if (kind === 'vigil') process.kill(c.pid!, 'SIGTERM');
      else spawnSync(which('s6-svscanctl'), ['-t', sd]);
    } catch {
      /* already gone */
    }
    await exitOf(c, 20000);
    killAll(c);
  }
}

export async function benchLogging(): Promise<BenchTable[]> {
  const vigilBin = frozenVigil();
  const tables: BenchTable[] = [];
  const notes: string[] = [];
  // 1. standalone loggers
  const thr: BenchRow[] = [];
  for (const len of [80, 4096]) {
    progress(`logging: ${TOTAL / 1e6} MB of ${len}-byte lines`);
    const input = makeInput(len);
    const runs: Record<string, Array<Run | null>> = { vigil: [], s6: [], svlogd: [] };
    for (let rep = 0; rep < REPS; rep++) for (const who of ['vigil', 's6', 'svlogd']) {
      const dir = freshDir(`log-${who}-${len}`);
      const ld = path.join(dir, 'ld');
      let argv: string[];
      if (who === 'vigil') argv = [node20(), vigilBin, 'log', 't', 's1000000', 'n1000', ld];
      else if (who === 's6') argv = [which('s6-log'), 't', 's1000000', 'n1000', ld];
      else {
        fs.mkdirSync(ld);
        fs.writeFileSync(path.join(ld, 'config'), 's1000000\nn1000\n');
        argv = [which('svlogd'), '-t', '-l', '4200', '-b', '8192', ld];
      }
      const r = pipeThrough(who, argv, input, ld);
      runs[who].push(r);
      progress(`  ${who}: ${r ? `${r.mbps.toFixed(1)} MB/s, lost ${r.lost}` : 'failed'}`);
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const res: Record<string, Run | null> = { vigil: medianRun(runs.vigil), s6: medianRun(runs.s6), svlogd: medianRun(runs.svlogd) };
    const col = (f: (r: Run) => number) => ({ vigil: res.vigil ? f(res.vigil) : null, s6: res.s6 ? f(res.s6) : null, svlogd: res.svlogd ? f(res.svlogd) : null });
    const ratio = res.vigil && res.s6 ? res.vigil.mbps / res.s6.mbps : null;
    thr.push({ scenario: `${len}-byte lines: throughput`, values: col((r) => r.mbps), unit: 'MB/s', target: '≥ 1.0× s6-log', met: ratio === null ? undefined : ratio >= 1.0 });
    thr.push({ scenario: `${len}-byte lines: lines per second`, values: col((r) => r.lps / 1000), unit: 'k lines/s' });
    thr.push({ scenario: `${len}-byte lines: CPU per MB (user+sys)`, values: col((r) => r.cpuPerMb), unit: 'ms/MB' });
    thr.push({ scenario: `${len}-byte lines: lines lost`, values: col((r) => r.lost), unit: 'lines', target: '0', met: res.vigil ? res.vigil.lost === 0 : undefined });
  }
  tables.push({
    title: `Logger throughput: ${TOTAL / 1e6} MB through t + rotation (s1000000), piped from cat`,
    columns: ['vigil', 's6', 'svlogd'],
    rows: thr,
    notes: [
      'vigil = `vigil log t s1000000 n1000 DIR`; s6 = Debian s6-log with the same script; svlogd = runit svlogd -t with s1000000/n1000 in DIR/config, -l 4200 -b 8192.',
      'n1000 instead of n50 so that no archive is trimmed and every line can be counted (lost = lines in − lines in the archives and current).',
      'CPU per MB: user+sys of the logger process alone (GNU time), per MB of input.',
    ],
  });
  // 2. in-supervisor
  const sup: BenchRow[] = [];
  for (const len of [80, 4096]) {
    progress(`logging: in-supervisor, ${len}-byte lines`);
    const input = makeInput(len);
    const vr: Array<Run | null> = [];
    const sr: Array<Run | null> = [];
    for (let rep = 0; rep < REPS; rep++) {
      vr.push(await supervised('vigil', input));
      sr.push(await supervised('s6', input));
    }
    const v = medianRun(vr);
    const s = medianRun(sr);
    sup.push({ scenario: `${len}-byte lines: throughput`, values: { vigil: v?.mbps ?? null, s6: s?.mbps ?? null }, unit: 'MB/s', target: '≥ 1.0× s6', met: v && s ? v.mbps >= s.mbps : undefined });
    sup.push({ scenario: `${len}-byte lines: CPU per MB of the logging process`, values: { vigil: v?.cpuPerMb ?? null, s6: s?.cpuPerMb ?? null }, unit: 'ms/MB' });
    sup.push({ scenario: `${len}-byte lines: lines lost`, values: { vigil: v?.lost ?? null, s6: s?.lost ?? null }, unit: 'lines', target: '0', met: v ? v.lost === 0 : undefined });
  }
  tables.push({
    title: `In-supervisor logging: one service writing ${TOTAL / 1e6} MB (cat), t + s1000000`,
    columns: ['vigil', 's6'],
    rows: sup,
    notes: [
      'vigil = the service logged inside `vigil svscan` (log-dir + log-script `t s1000000 n1000`); s6 = s6-svscan, the service with log/run `s6-log t s1000000 n1000`.',
      'Time from `s6-svc -u` until cat has written everything; CPU of the vigil scanner process / of the s6-log process over that time.',
    ],
  });
  // 3. memory
  const N = QUICK ? 20 : 100;
  progress(`logging: memory of ${N} logged services`);
  const mv = await memory('vigil', N);
  const ms = await memory('s6', N);
  const mv0 = await memory('vigil', 0);
  const ms0 = await memory('s6', 0);
  const per = (a: { pss: number } | null, b: { pss: number } | null) => (a && b ? ((a.pss - b.pss) * 1024) / N : null);
  tables.push({
    title: `Memory of ${N} logged services (PSS of the supervision and logging processes; services excluded)`,
    columns: ['vigil', 's6'],
    rows: [
      { scenario: `${N} logged services`, values: { vigil: mv?.pss ?? null, s6: ms?.pss ?? null }, unit: 'MB', target: '< 1/5 of s6', met: mv && ms ? mv.pss < ms.pss / 5 : undefined },
      { scenario: 'each logged service: (PSS(N) − PSS(empty scan dir)) / N', values: { vigil: per(mv, mv0), s6: per(ms, ms0) }, unit: 'kB', target: '< 1/5 of s6', met: mv && ms && mv0 && ms0 ? per(mv, mv0)! < per(ms, ms0)! / 5 : undefined },
      { scenario: 'empty scan dir (the fixed cost)', values: { vigil: mv0?.pss ?? null, s6: ms0?.pss ?? null }, unit: 'MB' },
      { scenario: 'processes counted', values: { vigil: mv?.procs ?? null, s6: ms?.procs ?? null }, unit: 'processes' },
    ],
    notes: [
      'The fixed cost of vigil is the Node runtime (one process for the whole tree); the per-service row is what each logged service adds.',
      'vigil = one `vigil svscan` (private node copy) logging every service in-process (log-dir); s6 = s6-svscan + 2×N s6-supervise + N s6-log (`s6-log t DIR`). Each service printed one line, then sleeps.',
      ...notes,
    ],
  });
  return tables;
}
