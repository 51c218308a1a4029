/** The benchmark tables: one shape for every scenario group, printed aligned on stdout and as markdown. */
import { fmt } from './stats';

export interface BenchRow {
  scenario: string;
  /** column name → figure (null: not measured / failed) */
  values: Record<string, number | null>;
  unit: string;
  /** the target the vigil figure is held to, in words, e.g. "≤ s6" */
  target?: string;
  /** whether vigil met it (undefined: no target or not measurable) */
  met?: boolean;
  note?: string;
}

export interface BenchTable {
  title: string;
  /** value columns in order; the ratio is columns[0] / the column named "s6" when both are there */
  columns: string[];
  rows: BenchRow[];
  notes: string[];
}

/** Tables from the other engineers' modules (bench/boot.ts) use {vigil, s6, other, unit}. */
interface ForeignRow { scenario: string; vigil: number | null; s6: number | null; other?: number | null; unit: string; note?: string }
interface ForeignTable { title: string; otherLabel?: string; rows: ForeignRow[]; notes?: string[] }

function isBench(t: unknown): t is BenchTable {
  return !!t && typeof t === 'object' && Array.isArray((t as BenchTable).columns) && Array.isArray((t as BenchTable).rows);
}
function isForeign(t: unknown): t is ForeignTable {
  return !!t && typeof t === 'object' && Array.isArray((t as ForeignTable).rows) && typeof (t as ForeignTable).title === 'string';
}

/** Whatever a bench module returned → tables (a table, an array of tables, or anything else as a note). */
export function normalise(x: unknown, fallbackTitle: string): BenchTable[] {
  if (Array.isArray(x)) return x.flatMap((t) => normalise(t, fallbackTitle));
  if (isBench(x)) return [x];
  if (isForeign(x)) {
    const other = x.otherLabel || 'other';
    const hasOther = x.rows.some((r) => r.other !== undefined && r.other !== null);
    const columns = hasOther ? ['vigil', 's6', other] : ['vigil', 's6'];
    return [{
      title: x.title,
      columns,
      rows: x.rows.map((r) => ({
        scenario: r.scenario,
        unit: r.unit,
        note: r.note,
        values: hasOther ? { vigil: r.vigil, s6: r.s6, [other]: r.other ?? null } : { vigil: r.vigil, s6: r.s6 },
      })),
      notes: x.notes || [],
    }];
  }
  return [{ title: fallbackTitle, columns: [], rows: [], notes: [JSON.stringify(x)] }];
}

export function ratioOf(t: BenchTable, r: BenchRow): number | null {
  const first = t.columns[0];
  if (!t.columns.includes('s6') || first === 's6') return null;
  const a = r.values[first];
  const b = r.values.s6;
  if (a === null || a === undefined || b === null || b === undefined || b === 0) return null;
  return a / b;
}

function header(t: BenchTable): string[] {
  const h = ['scenario', ...t.columns.map((c) => c), 'unit'];
  if (t.columns.includes('s6') && t.columns[0] !== 's6') h.splice(1 + t.columns.length, 0, `${t.columns[0]}/s6`);
  if (t.rows.some((r) => r.target)) h.push('target');
  if (t.rows.some((r) => r.note)) h.push('note');
  return h;
}

function cells(t: BenchTable, r: BenchRow): string[] {
  const c = [r.scenario, ...t.columns.map((k) => fmt(r.values[k]))];
  if (t.columns.includes('s6') && t.columns[0] !== 's6') {
    const q = ratioOf(t, r);
    c.push(q === null ? 'n/a' : `${fmt(q)}×`);
  }
  c.push(r.unit);
  if (t.rows.some((x) => x.target)) c.push(r.target ? `${r.target}${r.met === undefined ? '' : r.met ? ' ✓' : ' ✗'}` : '');
  if (t.rows.some((x) => x.note)) c.push(r.note || '');
  return c;
}

export function renderText(t: BenchTable): string {
  if (!t.rows.length) return [`== ${t.title}`, ...t.notes.map((n) => `  * ${n}`)].join('\n') + '\n';
  const rows = [header(t), ...t.rows.map((r) => cells(t, r))];
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => [...(r[i] || '')].length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ').trimEnd();
  const out = [`== ${t.title}`, line(rows[0]), ...rows.slice(1).map(line)];
  for (const n of t.notes) out.push(`  * ${n}`);
  return out.join('\n') + '\n';
}

export function renderMarkdown(t: BenchTable): string {
  if (!t.rows.length) return [`### ${t.title}`, '', ...t.notes.map((n) => `- ${n}`)].join('\n') + '\n';
  const h = header(t);
  const out = [`### ${t.title}`, '', `| ${h.join(' | ')} |`, `| ${h.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`];
  for (const r of t.rows) out.push(`| ${cells(t, r).map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`);
  if (t.notes.length) {
    out.push('');
    for (const n of t.notes) out.push(`- ${n}`);
  }
  return out.join('\n') + '\n';
}
