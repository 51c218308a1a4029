/**
 * `npm run bench [-- FILTER...]`: every benchmark group, vigil next to s6 measured in the same run.
 * Tables go to stdout (one per scenario, then all of them again as markdown for the README); progress to
 * stderr. Figures only: nothing here passes or fails, and none of it is part of `npm test`.
 *
 * FILTER: a group (supervision, boot, s6-overlay (boot's s6-overlay image rows alone), logging, node, rc, reliability) or a supervision scenario (start, memory, idle, crash, control,
 * orphans); several may be given. No filter: everything.
 * Environment: BENCH_QUICK=1 small N and few repetitions (smoke test); BENCH_MD=FILE also writes the markdown
 * there; NODE24=/path/to/node for the vigil@node24 column (NODE24=none: no such column); BENCH_VIGIL_OPT=0
 * removes the vigil+opt column (V8's optimizer left on); BENCH_SCAN_ROOT where the scan directories go
 * (default /dev/shm when it is a tmpfs); BENCH_VIGIL_ALT=/other/checkout/bin/vigil
 * adds a vigil-alt column (a candidate build measured next to this one); BENCH_RELIABILITY=logkill,reexec,adopt,fuzz
 * picks some of the reliability groups.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { execFileSync } from 'node:child_process';
import { BenchTable, normalise, renderMarkdown, renderText } from './lib/table';
import { installCleanup, progress } from './lib/sup';
import { removeBenchRoot } from './lib/scandir';
import { SCENARIOS, Scenario, benchSupervision } from './supervision';

const GROUPS = ['supervision', 'boot', 's6-overlay', 'logging', 'node', 'rc', 'reliability'] as const;

function machine(): string {
  const cpus = os.cpus();
  let distro = '';
  try {
    distro = /^PRETTY_NAME="?([^"\n]*)/m.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] || '';
  } catch {
    /* none */
  }
  let s6 = '';
  try {
    s6 = execFileSync('dpkg-query', ['-W', '-f', '${Version}', 's6'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    /* not a dpkg system */
  }
  return [
    `${distro || os.type()}, kernel ${os.release()}`,
    `${cpus.length} × ${cpus[0]?.model || '?'}`,
    `${Math.round(os.totalmem() / 2 ** 30)} GiB RAM`,
    `Node ${process.version}`,
    s6 ? `s6 ${s6} (Debian)` : 's6',
    `load average at start ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`,
  ].join('; ');
}

/** require() an optional bench module and call its entry point; a missing module is "not available". */
async function optional(file: string, fn: string): Promise<BenchTable[]> {
  let mod: Record<string, unknown>;
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    mod = require(file) as Record<string, unknown>;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const msg = code === 'MODULE_NOT_FOUND' && String((e as Error).message).includes(file) ? 'module not present' : (e as Error).message;
    return [{ title: `${file}: not available`, columns: [], rows: [], notes: [msg] }];
  }
  const f = mod[fn];
  if (typeof f !== 'function') return [{ title: `${file}: not available`, columns: [], rows: [], notes: [`no ${fn}() export`] }];
  try {
    return normalise(await (f as () => unknown)(), file);
  } catch (e) {
    return [{ title: `${file}: failed`, columns: [], rows: [], notes: [String((e as Error).stack || e)] }];
  }
}

async function main(): Promise<void> {
  installCleanup(removeBenchRoot);
  const args = process.argv.slice(2).map((a) => a.toLowerCase());
  const bad = args.filter((a) => !(GROUPS as readonly string[]).includes(a) && !(SCENARIOS as readonly string[]).includes(a));
  if (bad.length) {
    process.stderr.write(`bench: unknown filter ${bad.join(', ')}; use any of: ${[...GROUPS, ...SCENARIOS].join(' ')}\n`);
    process.exitCode = 100;
    return;
  }
  const scen = args.filter((a) => (SCENARIOS as readonly string[]).includes(a)) as Scenario[];
  const groups = new Set(args.filter((a) => (GROUPS as readonly string[]).includes(a)));
  if (scen.length) groups.add('supervision');
  const run = (g: string): boolean => groups.size === 0 || groups.has(g);

  const header = `${new Date().toISOString()} — ${machine()}${process.env.BENCH_QUICK === '1' ? ' — QUICK MODE (BENCH_QUICK=1): small N, few runs' : ''}`;
  progress(header);
  const all: BenchTable[] = [];
  const emit = (ts: BenchTable[]): void => {
    for (const t of ts) process.stdout.write(renderText(t) + '\n');
    all.push(...ts);
  };
  const t0 = Date.now();
  if (run('supervision')) emit(await benchSupervision(scen));
  if (run('boot')) {
    progress('boot: container and QEMU boot');
    emit(await optional('./boot', 'benchBoot'));
  }
  if (groups.has('s6-overlay') && !run('boot')) {
    progress('s6-overlay: an s6-overlay image, vigil init next to s6-overlay');
    emit(await optional('./boot', 'benchS6Overlay'));
  }
  if (run('logging')) {
    progress('logging');
    emit(await optional('./logging', 'benchLogging'));
  }
  if (run('node')) {
    progress('node: Node 20/22/24 start-up and memory');
    emit(await optional('./node', 'benchNode'));
  }
  if (run('rc')) {
    progress('rc: the service manager');
    emit(await optional('./rc', 'benchRc'));
  }
  if (run('reliability')) {
    progress('reliability: logger SIGKILLs, re-exec, adoption after a kill, hostile tree');
    emit(await optional('./reliability', 'benchReliability'));
  }
  const footer = `ended ${new Date().toISOString()}, load average at end ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (${os.cpus().length} cores)`;
  progress(footer);
  const md = [`## Benchmarks`, '', `Measured ${header}; ${footer}. \`npm run bench\` reproduces them (${Math.round((Date.now() - t0) / 1000)} s).`, '', ...all.map(renderMarkdown)].join('\n');
  process.stdout.write('\n' + md);
  if (process.env.BENCH_MD) fs.writeFileSync(process.env.BENCH_MD, md);
}

main().catch((e) => {
  process.stderr.write(`bench: fatal: ${(e as Error).stack || e}\n`);
  process.exitCode = 1;
});
