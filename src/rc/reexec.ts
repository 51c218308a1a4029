/**
 * The service manager's engine state (engine.ts) as plain JSON and back, for a re-exec of the process that
 * hosts it (src/supervisor/reexec.ts; the wiring is Manager.handover / Manager.resume in manager.ts). Pure:
 * no I/O. `decodeEngine(JSON.parse(JSON.stringify(encodeEngine(st))))` is a state that steps exactly as `st`
 * does (test/rc/reexec.test.ts).
 *
 * What needs care: the graph's maps (byName, bundles) are rebuilt from the atoms; a longrun's down-signal is a
 * Buffer (base64 here); a job's selections and counters are typed arrays; a job without a deadline has
 * Infinity, which JSON cannot say (null here). The graph handed over is the one in force, not the sources read
 * again: a source edited since the last `vigil rc reload` must not take effect through a re-exec.
 */
import type { Atom, Bundle, Graph } from './graph';
import type { Definition } from './source';
import type { EngineEvent, EngineState, Job, Phase, Rec } from './engine';

type Json = unknown;

interface DefJ extends Omit<Definition, 'longrun'> {
  longrun?: Omit<NonNullable<Definition['longrun']>, 'downSignal'> & { downSignal?: string };
}

export interface GraphJ {
  atoms: Array<Omit<Atom, 'def'> & { def: DefJ }>;
  bundles: Array<Omit<Bundle, 'def'> & { def: DefJ | null }>;
}

function encodeDef(d: Definition): DefJ {
  if (!d.longrun) return d as DefJ;
  const { downSignal, ...rest } = d.longrun;
  return { ...d, longrun: { ...rest, ...(downSignal ? { downSignal: downSignal.toString('base64') } : {}) } };
}

function decodeDef(d: DefJ): Definition {
  if (!d.longrun) return d as Definition;
  const { downSignal, ...rest } = d.longrun;
  return { ...d, longrun: { ...rest, ...(downSignal !== undefined ? { downSignal: Buffer.from(downSignal, 'base64') } : {}) } };
}

export function encodeGraph(g: Graph): GraphJ {
  return {
    atoms: g.atoms.map((a) => ({ ...a, def: encodeDef(a.def) })),
    bundles: [...g.bundles.values()].map((b) => ({ ...b, def: b.def ? encodeDef(b.def) : null })),
  };
}

export function decodeGraph(j: GraphJ): Graph {
  const atoms: Atom[] = j.atoms.map((a) => ({ ...a, def: decodeDef(a.def) }));
  const byName = new Map<string, number>();
  atoms.forEach((a, i) => {
    if (a.index !== i) throw new Error(`atom ${a.name}: index ${a.index} at position ${i}`);
    byName.set(a.name, i);
  });
  const bundles = new Map<string, Bundle>();
  for (const b of j.bundles) bundles.set(b.name, { ...b, def: b.def ? decodeDef(b.def) : null });
  return { atoms, byName, bundles };
}

/** an engine event (a reload's carries a graph) */
export function encodeEvent(ev: EngineEvent): Json {
  return ev.t === 'reload' ? { ...ev, graph: encodeGraph(ev.graph) } : ev;
}

export function decodeEvent(j: Json): EngineEvent {
  const ev = j as EngineEvent & { graph?: GraphJ };
  return ev.t === 'reload' ? { ...ev, graph: decodeGraph(ev.graph as unknown as GraphJ) } : ev;
}

function encodePhase(p: Phase): Json {
  return p.kind === 'change' ? { ...p, sel: Array.from(p.sel) } : { ...p, graph: encodeGraph(p.graph) };
}

function decodePhase(j: Json): Phase {
  const p = j as { kind: string; sel?: number[]; graph?: GraphJ };
  return p.kind === 'change'
    ? ({ ...(p as object), sel: Uint8Array.from(p.sel!) } as Phase)
    : ({ ...(p as object), graph: decodeGraph(p.graph!) } as Phase);
}

function encodeJob(job: Job): Json {
  return {
    ...job,
    ev: encodeEvent(job.ev),
    phases: job.phases.map(encodePhase),
    pending: Array.from(job.pending),
    examined: Array.from(job.examined),
    deadline: job.deadline === Infinity ? null : job.deadline,
  };
}

function decodeJob(j: Json): Job {
  const o = j as Record<string, unknown>;
  return {
    ...(o as unknown as Job),
    ev: decodeEvent(o.ev) as Job['ev'],
    phases: (o.phases as Json[]).map(decodePhase),
    pending: Int32Array.from(o.pending as number[]),
    examined: Uint8Array.from(o.examined as number[]),
    deadline: o.deadline === null ? Infinity : (o.deadline as number),
  };
}

export interface EngineJ {
  graph: GraphJ;
  recs: Rec[];
  opts: EngineState['opts'];
  job: Json | null;
  queue: Json[];
  keptUp: string[];
  shuttingDown: boolean;
}

/** the whole engine state, JSON-safe (every Rec's times are monotonic ms: they stay valid across execve) */
export function encodeEngine(st: EngineState): EngineJ {
  return {
    graph: encodeGraph(st.graph),
    recs: structuredClone(st.recs),
    opts: { ...st.opts },
    job: st.job ? encodeJob(st.job) : null,
    queue: st.queue.map(encodeJob),
    keptUp: [...st.keptUp],
    shuttingDown: st.shuttingDown,
  };
}

export function decodeEngine(j: EngineJ): EngineState {
  const graph = decodeGraph(j.graph);
  if (!Array.isArray(j.recs) || j.recs.length !== graph.atoms.length) throw new Error('the service manager\'s records do not match its graph');
  j.recs.forEach((r, i) => {
    if (r.name !== graph.atoms[i].name) throw new Error(`record ${i} is ${r.name}, not ${graph.atoms[i].name}`);
  });
  return {
    graph,
    recs: j.recs,
    opts: j.opts,
    job: j.job ? decodeJob(j.job) : null,
    queue: j.queue.map(decodeJob),
    keptUp: new Set(j.keptUp),
    shuttingDown: j.shuttingDown,
  };
}
