/**
 * The service graph: definitions (source.ts) → atomic services with resolved dependencies, bundles as sets of
 * atomic services, pipelines checked; and the closures s6-rc computes (up: over dependencies; down: over
 * dependents). Pure functions, no I/O. The refusals are s6-rc-compile's (s6-rc-and-s6-overlay.md §A2, name
 * resolution), each one line; a cycle is also shown as its path (`a -> b -> c -> a`), which s6-rc does not.
 *
 * Atomic services are numbered as s6-rc numbers them (minus its two internal services): longruns first, then
 * oneshots, each in definition order. `list` and `listall` print in that order.
 *
 * Pipelines (producer-for / consumer-for): a producer depends on its consumer (the logger starts first, as
 * s6-rc makes it); the pipe between them is held by the supervising process (src/rc/manager.ts), so neither
 * side loses data when the other restarts. A last consumer's `pipeline-name` becomes a bundle of the funnel.
 */
import { Definition, Problem } from './source';

export type AtomKind = 'oneshot' | 'longrun';

export interface Atom {
  index: number;
  name: string;
  kind: AtomKind;
  def: Definition;
  /** atomic dependencies (bundles expanded, the consumer of a producer added), ascending, unique */
  deps: number[];
  /** atomic dependents, ascending */
  rdeps: number[];
  /** flag-essential, on the service or on a bundle containing it */
  essential: boolean;
  /** the atom this producer writes to, or -1 */
  consumer: number;
  /** the atoms writing to this consumer */
  producers: number[];
}

export interface Bundle {
  name: string;
  /** atomic members, ascending */
  members: number[];
  /** null: made from a pipeline-name */
  def: Definition | null;
}

export interface Graph {
  atoms: Atom[];
  /** atomic service name → index */
  byName: Map<string, number>;
  bundles: Map<string, Bundle>;
}

export interface GraphResult {
  graph: Graph | null;
  problems: Problem[];
}

function typeName(defs: Map<string, Definition>, pipelines: Set<string>, name: string): string {
  const d = defs.get(name);
  if (d) return d.type;
  return pipelines.has(name) ? 'bundle' : 'unknown';
}

/** Resolve and check definitions that readSources returned without a problem. */
export function buildGraph(defs: readonly Definition[]): GraphResult {
  const problems: Problem[] = [];
  const problem = (text: string) => problems.push({ code: 1, text });
  const byDefName = new Map<string, Definition>();
  for (const d of defs) byDefName.set(d.name, d);

  const atoms: Atom[] = [];
  const byName = new Map<string, number>();
  for (const kind of ['longrun', 'oneshot'] as const) {
    for (const d of defs) {
      if (d.type !== kind) continue;
      const a: Atom = { index: atoms.length, name: d.name, kind, def: d, deps: [], rdeps: [], essential: d.essential, consumer: -1, producers: [] };
      byName.set(d.name, a.index);
      atoms.push(a);
    }
  }

  // pipeline bundles: a last consumer's pipeline-name is a bundle of the whole funnel
  const bundleContents = new Map<string, { def: Definition | null; names: string[] }>();
  for (const d of defs) if (d.type === 'bundle') bundleContents.set(d.name, { def: d, names: d.contents });
  const pipelineNames = new Set<string>();
  for (const d of defs) {
    const pn = d.longrun?.pipelineName;
    if (pn === undefined) continue;
    const clash = byDefName.get(pn) ?? (pipelineNames.has(pn) ? ({ type: 'bundle' } as Definition) : undefined);
    if (clash) {
      problem(`duplicate service definition: ${pn} defined as the pipeline-name of ${d.name} is already defined and has type ${clash.type}`);
      continue;
    }
    const members: string[] = [];
    const queue = [d.name];
    let bad = false;
    while (queue.length && !bad) {
      const cur = queue.shift()!;
      if (members.length >= atoms.length) {
        problem(`pipeline ${pn} is too long: possible loop involving ${cur}`);
        bad = true;
        break;
      }
      members.push(cur);
      for (const p of byDefName.get(cur)?.longrun?.consumerFor ?? []) {
        const t = typeName(byDefName, pipelineNames, p);
        if (t !== 'longrun') {
          problem(`longrun ${cur} declares a producer ${p} of type ${t}`);
          bad = true;
          break;
        }
        queue.push(p);
      }
    }
    if (bad) continue;
    pipelineNames.add(pn);
    bundleContents.set(pn, { def: null, names: members });
  }

  // bundles → atomic members (depth-first, with the path kept to show a cycle)
  const bundles = new Map<string, Bundle>();
  const state = new Map<string, 1 | 2>(); // 1: being resolved, 2: done
  const resolveBundle = (root: string): void => {
    if (state.get(root) === 2) return;
    const stack: Array<{ name: string; i: number; acc: Set<number> }> = [{ name: root, i: 0, acc: new Set() }];
    state.set(root, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const names = bundleContents.get(top.name)!.names;
      if (top.i >= names.length) {
        stack.pop();
        state.set(top.name, 2);
        const members = [...top.acc].sort((x, y) => x - y);
        bundles.set(top.name, { name: top.name, members, def: bundleContents.get(top.name)!.def });
        if (stack.length) for (const m of members) stack[stack.length - 1].acc.add(m);
        continue;
      }
      const n = names[top.i++];
      const ai = byName.get(n);
      if (ai !== undefined) {
        top.acc.add(ai);
        continue;
      }
      if (!bundleContents.has(n)) {
        problem(`during resolution of bundle ${top.name}: undefined service name ${n}`);
        continue;
      }
      const st = state.get(n);
      if (st === 2) {
        for (const m of bundles.get(n)!.members) top.acc.add(m);
        continue;
      }
      if (st === 1) {
        const from = stack.findIndex((f) => f.name === n);
        const cycle = [...stack.slice(from).map((f) => f.name), n].join(' -> ');
        problem(`cyclic bundle definition: resolution of ${root} encountered a cycle involving ${n} (${cycle})`);
        // give up on this root: mark everything on the stack done so no second report comes from it
        for (const f of stack) {
          state.set(f.name, 2);
          bundles.set(f.name, { name: f.name, members: [], def: bundleContents.get(f.name)!.def });
        }
        return;
      }
      state.set(n, 1);
      stack.push({ name: n, i: 0, acc: new Set() });
    }
  };
  for (const name of bundleContents.keys()) resolveBundle(name);

  // producers and consumers must name each other; a producer depends on its consumer
  for (const a of atoms) {
    if (a.kind !== 'longrun') continue;
    const lr = a.def.longrun!;
    if (lr.producerFor !== undefined) {
      const c = lr.producerFor;
      const t = typeName(byDefName, pipelineNames, c);
      if (t !== 'longrun') {
        problem(`longrun service ${a.name} declares being a producer for a service named ${c} of type ${t}`);
      } else if (!byDefName.get(c)!.longrun!.consumerFor.includes(a.name)) {
        problem(`longrun service ${a.name} declares being a producer for a service named ${c} that does not declare it back`);
      } else {
        a.consumer = byName.get(c)!;
      }
    }
    for (const p of lr.consumerFor) {
      const t = typeName(byDefName, pipelineNames, p);
      if (t !== 'longrun') {
        problem(`longrun service ${a.name} declares being the consumer for a service named ${p} of type ${t}`);
      } else if (byDefName.get(p)!.longrun!.producerFor !== a.name) {
        problem(`longrun service ${a.name} declares being the consumer for a service named ${p} that does not declare it back`);
      } else {
        a.producers.push(byName.get(p)!);
      }
    }
  }

  // dependencies: names → atoms
  for (const a of atoms) {
    const set = new Set<number>();
    for (const n of a.def.deps) {
      const ai = byName.get(n);
      if (ai !== undefined) set.add(ai);
      else if (bundles.has(n)) for (const m of bundles.get(n)!.members) set.add(m);
      else problem(`during dependency resolution for service ${a.name}: undefined service name ${n}`);
    }
    if (a.consumer >= 0) set.add(a.consumer);
    a.deps = [...set].sort((x, y) => x - y);
  }
  for (const a of atoms) for (const d of a.deps) atoms[d].rdeps.push(a.index);

  if (!problems.length) {
    const cyc = findCycle(atoms);
    if (cyc) {
      const path = cyc.cycle.map((i) => atoms[i].name).join(' -> ');
      problem(`cyclic service dependency reached from ${atoms[cyc.from].name} and involving ${atoms[cyc.cycle[0]].name} (${path})`);
    }
  }

  // flag-essential on a bundle applies to its contents
  for (const b of bundles.values()) if (b.def?.essential) for (const m of b.members) atoms[m].essential = true;

  return { graph: problems.length ? null : { atoms, byName, bundles }, problems };
}

/**
 * One dependency cycle, or null: `from` is where the search started, `cycle` the loop itself as a path
 * [d, ..., d]. Iterative depth-first search (a 1000-deep chain must not overflow the stack).
 */
export function findCycle(atoms: readonly Atom[]): { from: number; cycle: number[] } | null {
  const color = new Uint8Array(atoms.length); // 0 white, 1 gray (on the stack), 2 black
  for (let root = 0; root < atoms.length; root++) {
    if (color[root]) continue;
    const stack: Array<[number, number]> = [[root, 0]];
    color[root] = 1;
    while (stack.length) {
      const top = stack[stack.length - 1];
      const deps = atoms[top[0]].deps;
      if (top[1] >= deps.length) {
        color[top[0]] = 2;
        stack.pop();
        continue;
      }
      const d = deps[top[1]++];
      if (color[d] === 1) {
        const at = stack.findIndex((f) => f[0] === d);
        return { from: root, cycle: [...stack.slice(at).map((f) => f[0]), d] };
      }
      if (color[d] === 0) {
        color[d] = 1;
        stack.push([d, 0]);
      }
    }
  }
  return null;
}

/** The atomic services a list of names means (a bundle: its members), or the first unknown name. */
export function resolveNames(g: Graph, names: readonly string[]): { atoms: number[] } | { unknown: string } {
  const out = new Set<number>();
  for (const n of names) {
    const ai = g.byName.get(n);
    if (ai !== undefined) {
      out.add(ai);
      continue;
    }
    const b = g.bundles.get(n);
    if (!b) return { unknown: n };
    for (const m of b.members) out.add(m);
  }
  return { atoms: [...out].sort((x, y) => x - y) };
}

/** Close a selection in place: up = add every dependency, transitively; down = every dependent. */
export function closure(g: Graph, sel: Uint8Array, up: boolean): void {
  const stack: number[] = [];
  for (let i = 0; i < sel.length; i++) if (sel[i]) stack.push(i);
  while (stack.length) {
    const i = stack.pop()!;
    for (const j of up ? g.atoms[i].deps : g.atoms[i].rdeps) {
      if (!sel[j]) {
        sel[j] = 1;
        stack.push(j);
      }
    }
  }
}

/** A selection (1 = selected) of the named services, closed or not. */
export function selection(g: Graph, atoms: readonly number[]): Uint8Array {
  const sel = new Uint8Array(g.atoms.length);
  for (const a of atoms) sel[a] = 1;
  return sel;
}

/** Names of the selected atoms, in atom order (how s6-rc prints lists). */
export function selectedNames(g: Graph, sel: Uint8Array): string[] {
  const out: string[] = [];
  for (let i = 0; i < sel.length; i++) if (sel[i]) out.push(g.atoms[i].name);
  return out;
}
