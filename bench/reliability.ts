/**
 * Reliability benchmarks (issue 10 §5), vigil next to s6 in the same run, systems interleaved:
 *
 * 1. logger SIGKILLs during a numbered stream: a writer sends 1 000 000 numbered lines (BENCH_QUICK=1:
 *    100 000) into a fifo whose both ends the bench holds (as a scanner holds a service's log pipe), the
 *    logger (`vigil log t s4000000 n1000 DIR` or Debian's `s6-log` with the same script) is SIGKILLed 100
 *    times (QUICK: 20) at random instants spread over the stream and restarted at once each time; then every
 *    line of the logdir is counted: lost, duplicated (test/helpers/logkill.ts, the scenario of
 *    test/logger/kills.test.ts and `npm run stress -- logkill`). The worst run and the median are reported.
 */
import { BenchTable, BenchRow } from './lib/table';
import { freshDir } from './lib/scandir';
import { frozenVigil, node20, progress } from './lib/sup';
import { median } from './lib/stats';
import { killStream, KillStreamResult } from '../test/helpers/logkill';

const QUICK = process.env.BENCH_QUICK === '1';
const LINES = QUICK ? 100000 : 1000000;
const KILLS = QUICK ? 20 : 100;
/** runs per system, interleaved (vigil, s6, vigil, ...) */
const REPS = QUICK ? 1 : 5;

export async function benchReliability(): Promise<BenchTable[]> {
  const vigil: [string, string] = [node20(), frozenVigil()];
  const runs: Record<'vigil' | 's6', KillStreamResult[]> = { vigil: [], s6: [] };
  for (let rep = 0; rep < REPS; rep++) {
    for (const kind of ['vigil', 's6'] as const) {
      const dir = freshDir(`logkill-${kind}-${rep}`);
      // 1 000 000 lines in about 20 s (500 lines every 10 ms): a kill every ~200 ms, most of them on a logger
      // that is reading (a vigil log starts in ~80 ms)
      const r = await killStream({ kind, lines: LINES, kills: KILLS, batch: LINES / 2000, intervalMs: 10, dir, vigil });
      runs[kind].push(r);
      progress(`  reliability: ${kind} run ${rep + 1}: ${r.kills} kills, lost ${r.lost}, duplicated ${r.duplicated}, out of order ${r.outOfOrder}`);
    }
  }
  const worst = (k: 'vigil' | 's6', f: (r: KillStreamResult) => number): number | null => (runs[k].length ? Math.max(...runs[k].map(f)) : null);
  const med = (k: 'vigil' | 's6', f: (r: KillStreamResult) => number): number | null => (runs[k].length ? median(runs[k].map(f)) : null);
  const range = (k: 'vigil' | 's6', f: (r: KillStreamResult) => number): string => runs[k].map(f).join(', ');
  const rows: BenchRow[] = [
    { scenario: `${KILLS} logger SIGKILLs over ${LINES / 1e6} M lines: lines lost, worst run`, values: { vigil: worst('vigil', (r) => r.lost), s6: worst('s6', (r) => r.lost) }, unit: 'lines', target: '0', met: worst('vigil', (r) => r.lost) === 0 },
    { scenario: `${KILLS} logger SIGKILLs: lines lost, median`, values: { vigil: med('vigil', (r) => r.lost), s6: med('s6', (r) => r.lost) }, unit: 'lines' },
    { scenario: `${KILLS} logger SIGKILLs: lines doubled, worst run`, values: { vigil: worst('vigil', (r) => r.duplicated), s6: worst('s6', (r) => r.duplicated) }, unit: 'lines', target: '0', met: worst('vigil', (r) => r.duplicated) === 0 },
    { scenario: `${KILLS} logger SIGKILLs: lines doubled, median`, values: { vigil: med('vigil', (r) => r.duplicated), s6: med('s6', (r) => r.duplicated) }, unit: 'lines' },
    { scenario: `${KILLS} logger SIGKILLs: kills that hit a running logger, median`, values: { vigil: med('vigil', (r) => r.kills), s6: med('s6', (r) => r.kills) }, unit: 'kills' },
  ];
  return [{
    title: `Logger SIGKILLs during a ${LINES / 1e6} M-line stream (t s4000000 n1000), ${REPS} runs each`,
    columns: ['vigil', 's6'],
    rows,
    notes: [
      'vigil = `vigil log t s4000000 n1000 DIR`; s6 = Debian s6-log with the same script; the fifo is held open by the bench (as a scanner holds the log pipe), the logger restarted at once after each kill.',
      `Per run — vigil lost: ${range('vigil', (r) => r.lost)}; doubled: ${range('vigil', (r) => r.duplicated)}. s6-log lost: ${range('s6', (r) => r.lost)}; doubled: ${range('s6', (r) => r.duplicated)}.`,
      'lost / doubled: numbered lines missing from / found twice in the archives + current. s6-log loses what it had read and not yet written (up to one 8191-byte read and a partial line per kill).',
    ],
  }];
}
