// A random DAG of 1000 services (longruns with notification-fd and oneshots), with real processes under
// `vigil svscan --rc`: every service appends to one log as it starts and ends (O_APPEND lines give a total
// order), which proves each came up after its dependencies, that independent ones ran at the same time, and
// that `-d` took them down in reverse.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { rcTree, TreeEntry, startRcTree, RcTree } from '../helpers/rctree';

const N = 1000;
let tree: RcTree | null = null;
const dirs: string[] = [];
after(() => {
  tree?.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

test(`a random DAG of ${N} services comes up in a valid order with parallelism, and down in reverse`, async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-dag-'));
  dirs.push(out);
  const log = path.join(out, 'log');
  let x = 20240607;
  const rnd = () => ((x = (x * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const spec: Record<string, TreeEntry> = {};
  const deps = new Map<string, string[]>();
  const kind = new Map<string, 'longrun' | 'oneshot'>();
  for (let i = 0; i < N; i++) {
    const name = `s${String(i).padStart(4, '0')}`;
    const ds = new Set<string>();
    const k = Math.floor(rnd() * 4);
    for (let d = 0; d < k && i > 0; d++) ds.add(`s${String(Math.floor(rnd() * i)).padStart(4, '0')}`);
    deps.set(name, [...ds]);
    const lr = i % 3 === 0;
    kind.set(name, lr ? 'longrun' : 'oneshot');
    spec[`${name}/type`] = lr ? 'longrun\n' : 'oneshot\n';
    for (const d of ds) spec[`${name}/dependencies.d/${d}`] = '';
    if (lr) {
      spec[`${name}/run`] = `#!/bin/sh\necho up ${name} >> ${log}\necho >&3\nexec sleep 1000000\n`;
      spec[`${name}/finish`] = `#!/bin/sh\necho down ${name} >> ${log}\n`;
      spec[`${name}/notification-fd`] = '3\n';
    } else {
      spec[`${name}/up`] = `sh -c "echo start ${name} >> ${log}; sleep 0.03; echo up ${name} >> ${log}"\n`;
      spec[`${name}/down`] = `sh -c "echo down ${name} >> ${log}"\n`;
    }
  }
  spec['all/type'] = 'bundle\n';
  for (const name of deps.keys()) spec[`all/contents.d/${name}`] = '';
  const src = rcTree(spec);
  dirs.push(src);
  tree = await startRcTree(src, ['-c', '2000']);
  const t0 = Date.now();
  const r = await tree.rc(['change', 'all'], 240000);
  const upMs = Date.now() - t0;
  assert.equal(r.code, 0, r.stderr);
  const lines = fs.readFileSync(log, 'utf8').trim().split('\n');
  const at = (what: string) => {
    const i = lines.indexOf(what);
    assert.ok(i >= 0, `${what} in the log`);
    return i;
  };
  for (const [name, ds] of deps) {
    const begin = kind.get(name) === 'oneshot' ? at(`start ${name}`) : at(`up ${name}`);
    for (const d of ds) assert.ok(at(`up ${d}`) < begin, `${name} started after its dependency ${d} was up`);
  }
  // parallelism: how many oneshots were between their start and their end at the same time
  let running = 0;
  let most = 0;
  for (const l of lines) {
    if (l.startsWith('start ')) most = Math.max(most, ++running);
    else if (l.startsWith('up ') && kind.get(l.slice(3)) === 'oneshot') running--;
  }
  assert.ok(most >= 10, `at most ${most} oneshots ran at once`);
  const oneshots = [...kind.values()].filter((k) => k === 'oneshot').length;
  assert.ok(upMs < oneshots * 30, `${upMs} ms: well under the ${oneshots * 30} ms a one-at-a-time start would take`);

  fs.writeFileSync(log, '');
  const d = await tree.rc(['-d', 'change', 'all'], 240000);
  assert.equal(d.code, 0, d.stderr);
  const down = fs.readFileSync(log, 'utf8').trim().split('\n');
  const pos = new Map(down.map((l, i) => [l, i]));
  assert.equal(pos.size, N, 'every service went down once');
  for (const [name, ds] of deps) {
    for (const dep of ds) assert.ok(pos.get(`down ${name}`)! < pos.get(`down ${dep}`)!, `${name} down before its dependency ${dep}`);
  }
  assert.equal((await tree.rc(['-a', 'list'])).stdout, '');
});
