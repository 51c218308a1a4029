// Reading and validating s6-rc source directories (src/rc/source.ts, src/rc/graph.ts): every refusal of
// s6-rc-compile with its message and exit code, hostile trees (binary type, huge files, symlink loops, fifos),
// the closures, and `vigil rc -s DIR check|list|listall` as a command.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { readSources, LIMITS } from '../../src/rc/source';
import { buildGraph, closure, resolveNames, selectedNames, selection } from '../../src/rc/graph';
import { rcTree, longrun, oneshot, bundle, deps, TreeEntry } from '../helpers/rctree';
import { VIGIL } from '../helpers/svscan';

const made: string[] = [];
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

function tree(spec: Record<string, TreeEntry>): string {
  const d = rcTree(spec);
  made.push(d);
  return d;
}

/** what `vigil rc check` would say: the problems in order (late ones after the graph's) and the exit code */
function check(...srcs: string[]): { code: number; lines: string[]; warnings: string[] } {
  const set = readSources(srcs);
  let problems = set.problems.filter((p) => !p.late);
  if (!problems.length) problems = buildGraph(set.defs).problems;
  problems = [...problems, ...set.problems.filter((p) => p.late)];
  return { code: problems.length ? problems[0].code : 0, lines: problems.map((p) => p.text), warnings: set.warnings };
}

function refused(spec: Record<string, TreeEntry>, code: number, re: RegExp): void {
  const src = tree(spec);
  const r = check(src);
  assert.equal(r.code, code, `exit code for ${JSON.stringify(Object.keys(spec))}: ${r.lines.join(' | ')}`);
  assert.ok(r.lines.some((l) => re.test(l.replace(src, 'SRC'))), `expected ${re} in ${JSON.stringify(r.lines)}`);
}

test('a valid tree: types, dependencies (dir and file forms), bundles, timeouts, flags, the lexed up/down', () => {
  const src = tree({
    ...oneshot('mount', 'foreground { mkdir -p /tmp/x } echo done\n', { down: '# nothing\n' }),
    'mount/timeout-up': '5000\n\n',
    ...longrun('web', 'sleep 100', { 'dependencies.d/mount': '', 'notification-fd': '3\n', 'flag-essential': '' }),
    ...longrun('worker', 'sleep 100', { dependencies: '  # comment\n\n\tweb\nmount\nweb\n' }),
    ...bundle('default', ['web', 'worker']),
    '.hidden/type': 'garbage',
    'afile': 'not a directory, skipped',
  });
  const set = readSources([src]);
  assert.deepEqual(set.problems, []);
  assert.deepEqual(set.defs.map((d) => [d.name, d.type]), [['default', 'bundle'], ['mount', 'oneshot'], ['web', 'longrun'], ['worker', 'longrun']]);
  const mount = set.defs[1];
  assert.deepEqual(mount.up, ['foreground', ' mkdir', ' -p', ' /tmp/x', '', 'echo', 'done']);
  assert.deepEqual(mount.down, []);
  assert.equal(mount.timeoutUp, 5000);
  assert.equal(set.defs[2].longrun!.notificationFd, 3);
  assert.equal(set.defs[2].essential, true);
  assert.deepEqual(set.defs[3].deps, ['web', 'mount']);
  assert.match(set.notes.join('\n'), /name listed more than once: web/);
  const g = buildGraph(set.defs);
  assert.deepEqual(g.problems, []);
  const graph = g.graph!;
  assert.deepEqual(graph.atoms.map((a) => a.name), ['web', 'worker', 'mount'], 'longruns first, then oneshots');
  const sel = selection(graph, (resolveNames(graph, ['default']) as { atoms: number[] }).atoms);
  assert.deepEqual(selectedNames(graph, sel), ['web', 'worker']);
  closure(graph, sel, true);
  assert.deepEqual(selectedNames(graph, sel), ['web', 'worker', 'mount']);
  const down = selection(graph, [graph.byName.get('mount')!]);
  closure(graph, down, false);
  assert.deepEqual(selectedNames(graph, down), ['web', 'worker', 'mount']);
  assert.deepEqual(resolveNames(graph, ['web', 'nope']), { unknown: 'nope' });
});

test("every refusal of s6-rc-compile, with its message and exit code", () => {
  refused({ 'a/type': 'oneshot \n', 'a/up': '' }, 1, /^invalid SRC\/a\/type: must be oneshot, longrun, or bundle$/);
  refused({ 'a/type': 'oneshot\r\n', 'a/up': '' }, 1, /^invalid SRC\/a\/type: must be oneshot, longrun, or bundle$/);
  refused({ 'a/type': Buffer.from([0xff, 0, 1, 2, 0x80]), 'a/up': '' }, 1, /^invalid SRC\/a\/type/);
  refused({ 'a/type': '' }, 1, /^invalid SRC\/a\/type/);
  refused({ 'a/up': 'x' }, 111, /^unable to read SRC\/a\/type: No such file or directory$/);
  refused({ 'a/type': 'oneshot\n' }, 111, /^unable to open SRC\/a\/up: No such file or directory$/);
  refused({ 'a/type': 'longrun\n' }, 1, /^unable to find a run script in SRC\/a\/run$/);
  refused({ 'a/type': 'longrun\n', 'a/run': { dir: true } }, 1, /^SRC\/a\/run is not a regular file$/);
  refused({ 'x/type': 'bundle\n' }, 111, /^unable to open SRC\/x\/contents: No such file or directory$/);
  refused({ ...oneshot('s6rc-x', 'true') }, 1, /^in SRC: identifier s6rc-x starts with reserved prefix$/);
  refused({ ...oneshot('s6-rc-x', 'true') }, 1, /^in SRC: identifier s6-rc-x starts with reserved prefix$/);
  refused({ ...oneshot('a', 'true', { deps: ['s6rc-oneshot-runner'] }) }, 1, /identifier s6rc-oneshot-runner starts with reserved prefix/);
  refused({ ...oneshot('a', 'true', { deps: ['nope'] }) }, 1, /^during dependency resolution for service a: undefined service name nope$/);
  refused({ ...bundle('x', ['nope']) }, 1, /^during resolution of bundle x: undefined service name nope$/);
  refused({ ...bundle('x', ['y']), ...bundle('y', ['x']) }, 1, /^cyclic bundle definition: resolution of x encountered a cycle involving x \(x -> y -> x\)$/);
  refused({ ...oneshot('a', 'x', { deps: ['c'] }), ...oneshot('b', 'x', { deps: ['a'] }), ...oneshot('c', 'x', { deps: ['b'] }) }, 1,
    /^cyclic service dependency reached from a and involving a \(a -> c -> b -> a\)$/);
  refused({ ...oneshot('a', 'x', { deps: ['a'] }) }, 1, /^cyclic service dependency .*\(a -> a\)$/);
  refused({ ...oneshot('a', 'foreground { echo } }\n') }, 1, /^syntax error in SRC\/a\/up: unmatched }$/);
  refused({ ...oneshot('a', 'foreground { echo\n') }, 1, /^syntax error in SRC\/a\/up: unmatched {$/);
  refused({ ...oneshot('a', 'true', { down: 'echo "x\n' }) }, 1, /^syntax error in SRC\/a\/down$/);
  refused({ ...oneshot('a', 'x'), 'a/timeout-up': '12x\n' }, 1, /^invalid SRC\/a\/timeout-up$/);
  refused({ ...oneshot('a', 'x'), 'a/timeout-down': '' }, 1, /^invalid SRC\/a\/timeout-down$/);
  refused({ ...longrun('a', 'x', { 'notification-fd': 'abc\n' }) }, 111, /^unable to read SRC\/a\/notification-fd: Invalid argument$/);
  refused({ ...longrun('a', 'x', { 'max-death-tally': '-1' }) }, 111, /^unable to read SRC\/a\/max-death-tally: Invalid argument$/);
  refused({ ...longrun('a', 'x', { 'notification-fd': '5\n', 'lock-fd': '5' }) }, 1, /^longrun a has the same value for notification-fd and lock-fd$/);
  refused({ ...longrun('a', 'x', { data: 'a file' }) }, 1, /^SRC\/a\/data is not a directory$/);
  refused({ ...longrun('p', 'cat', { 'producer-for': 'c\nd\n' }), ...longrun('c', 'cat'), ...longrun('d', 'cat') }, 1,
    /^SRC\/p\/producer-for should only contain one service name$/);
  refused({ ...longrun('p', 'cat', { 'producer-for': 'c\n' }), ...longrun('c', 'cat') }, 1,
    /^longrun service p declares being a producer for a service named c that does not declare it back$/);
  refused({ ...longrun('p', 'cat'), ...longrun('c', 'cat', { 'consumer-for': 'p\n' }) }, 1,
    /^longrun service c declares being the consumer for a service named p that does not declare it back$/);
  refused({ ...longrun('p', 'cat', { 'producer-for': 'c\n' }), ...oneshot('c', 'x') }, 1,
    /^longrun service p declares being a producer for a service named c of type oneshot$/);
  refused({ ...longrun('p', 'cat', { 'producer-for': 'ghost\n' }) }, 1, /named ghost of type unknown$/);
  refused({ ...longrun('c', 'cat', { 'consumer-for': 'p\n', 'pipeline-name': 'a\nb\n' }), ...longrun('p', 'cat', { 'producer-for': 'c' }) }, 1,
    /^SRC\/c\/pipeline-name should only contain one name$/);
});

test('a name defined in two source directories is refused; order and warnings follow s6-rc-compile', () => {
  const a = tree({ ...oneshot('same', 'true') });
  const b = tree({ ...longrun('same', 'sleep 1'), ...longrun('other', 'sleep 1') });
  const r = check(a, b);
  assert.equal(r.code, 1);
  assert.deepEqual(r.lines.map((l) => l.replace(b, 'B')), ['duplicate service definition: same defined in B is already defined and has type oneshot']);
  const empty = tree({ 'x': 'a file, not a service' });
  assert.deepEqual(check(empty).warnings.map((w) => w.replace(empty, 'E')), ['source E is empty']);
  const pn = tree({ ...longrun('p', 'cat', { 'producer-for': 'c', 'pipeline-name': 'ignored' }), ...longrun('c', 'cat', { 'consumer-for': 'p' }) });
  assert.match(check(pn).warnings.join('\n'), /contains a pipeline-name file despite not being a last consumer; this file will be ignored/);
});

test('pipelines: the producer depends on its consumer; pipeline-name is a bundle of the funnel', () => {
  const src = tree({
    ...longrun('app', 'cat', { 'producer-for': 'app-filter' }),
    ...longrun('app-filter', 'cat', { 'producer-for': 'app-log', 'consumer-for': 'app' }),
    ...longrun('side', 'cat', { 'producer-for': 'app-log' }),
    ...longrun('app-log', 'cat', { 'consumer-for': 'app-filter\nside\n', 'pipeline-name': 'app-pipeline\n' }),
  });
  const set = readSources([src]);
  const { graph, problems } = buildGraph(set.defs);
  assert.deepEqual(problems, []);
  const g = graph!;
  const at = (n: string) => g.atoms[g.byName.get(n)!];
  assert.deepEqual(at('app').deps, [g.byName.get('app-filter')]);
  assert.deepEqual(at('app-filter').deps, [g.byName.get('app-log')]);
  assert.deepEqual(at('app-log').producers.map((i) => g.atoms[i].name).sort(), ['app-filter', 'side']);
  assert.deepEqual(g.bundles.get('app-pipeline')!.members.map((i) => g.atoms[i].name).sort(), ['app', 'app-filter', 'app-log', 'side']);
});

test('flag-essential on a bundle marks its contents; the deprecated contents file works', () => {
  const src = tree({ ...oneshot('a', 'true'), ...oneshot('b', 'true'), 'core/type': 'bundle\n', 'core/contents': 'a\n  # x\n', 'core/flag-essential': '' });
  const { graph } = buildGraph(readSources([src]).defs);
  assert.equal(graph!.atoms[graph!.byName.get('a')!].essential, true);
  assert.equal(graph!.atoms[graph!.byName.get('b')!].essential, false);
});

test('a hostile tree: binary type, huge files, symlink loops, fifos and devices give one line each, never a hang', () => {
  const src = tree({
    ...oneshot('huge', 'true'),
    'loop1': { symlink: 'loop2' },
    'loop2': { symlink: 'loop1' },
    'fifotype/type': { fifo: true },
    ...oneshot('fifoup', 'x'),
    'devtype/type': { symlink: '/dev/zero' },
    ...longrun('hugerun', 'x'),
    'bintype/type': Buffer.from('\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09'),
    ...oneshot('dirs', 'true'),
    'dirs/dependencies.d': { symlink: 'dependencies.d' },
    ...longrun('deeplink', 'x', { 'data/self': { symlink: '.' }, 'data/up': { symlink: '..' } }),
  });
  fs.rmSync(path.join(src, 'fifoup', 'up'));
  writeFifo(path.join(src, 'fifoup', 'up'));
  fs.writeFileSync(path.join(src, 'huge', 'up'), Buffer.alloc(10 << 20, 'echo x\n'));
  const fd = fs.openSync(path.join(src, 'hugerun', 'run'), 'w');
  fs.ftruncateSync(fd, LIMITS.scriptBytes + 10);
  fs.closeSync(fd);
  const t0 = Date.now();
  const r = check(src);
  const lines = r.lines.map((l) => l.replace(src, 'SRC'));
  assert.ok(Date.now() - t0 < 20000, 'bounded');
  const want = [
    /^unable to stat SRC\/loop1: Too many levels of symbolic links \(a symlink loop\)$/,
    /^unable to stat SRC\/loop2: Too many levels of symbolic links/,
    /^invalid SRC\/fifotype\/type: not a regular file$/,
    /^SRC\/fifoup\/up: not a regular file$/,
    /^invalid SRC\/devtype\/type: not a regular file$/,
    /^SRC\/huge\/up: too large \(more than 1048576 bytes\)$/,
    /^SRC\/hugerun\/run: too large/,
    /^invalid SRC\/bintype\/type: must be oneshot, longrun, or bundle$/,
    /^unable to opendir SRC\/dirs\/dependencies.d: Too many levels of symbolic links$/,
  ];
  for (const re of want) assert.ok(lines.some((l) => re.test(l)), `${re} in\n${lines.join('\n')}`);
  for (const l of lines) assert.ok(!l.includes('\n') && l.length < 300, `one short line: ${JSON.stringify(l)}`);
  assert.equal(r.code, 111, 'the first problem (the symlink loop, found while scanning) is a system error');
  // the symlinks inside data/ are recorded, not followed: deeplink itself is fine
  assert.ok(!lines.some((l) => l.includes('deeplink')), lines.join('\n'));
});

function writeFifo(p: string): void {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  require('../../src/sys/native').native().mkfifo(p, 0o644);
}

test('a fuzzed tree of garbage files: only one-line problems, no exception, bounded time', () => {
  let x = 12345;
  const rnd = () => ((x = (x * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const files = ['type', 'up', 'down', 'run', 'dependencies', 'contents', 'timeout-up', 'notification-fd', 'producer-for', 'consumer-for', 'pipeline-name', 'flag-essential', 'max-death-tally'];
  const words = ['oneshot', 'longrun', 'bundle', 'a', 'b', 'c', 'd', '{', '}', '"', '\\', '#', '\n', ' ', '3', 'x', '\x00', '\xff'];
  for (let round = 0; round < 30; round++) {
    const spec: Record<string, TreeEntry> = {};
    for (const svc of ['a', 'b', 'c', 'd']) {
      for (const f of files) {
        if (rnd() < 0.4) continue;
        let s = '';
        const n = Math.floor(rnd() * 6);
        for (let i = 0; i < n; i++) s += words[Math.floor(rnd() * words.length)];
        spec[`${svc}/${f}`] = Buffer.from(s, 'latin1');
      }
    }
    const src = tree(spec);
    const r = check(src);
    for (const l of r.lines) assert.ok(!l.includes('\n'), `one line: ${JSON.stringify(l)}`);
    assert.ok([0, 1, 111].includes(r.code));
  }
});

test('vigil rc -s DIR check | list | listall: exit codes and output as s6-rc-compile / s6-rc', () => {
  const src = tree({
    ...oneshot('mount', 'true'), ...longrun('web', 'sleep 1'), ...deps('web', ['mount']),
    ...longrun('api', 'sleep 1', { 'dependencies.d/web': '' }), ...bundle('default', ['api']),
  });
  const run = (...a: string[]) => spawnSync(process.execPath, [VIGIL, 'rc', ...a], { encoding: 'utf8', timeout: 30000 });
  let r = run('-s', src, 'check');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout + r.stderr, '');
  // s6-rc's order: longruns, then oneshots, each in definition order
  r = run('-s', src, 'listall', 'default');
  assert.equal(r.stdout, 'api\nweb\nmount\n');
  r = run('-s', src, '-d', 'listall', 'web');
  assert.equal(r.stdout, 'api\nweb\n');
  r = run('-s', src, 'list', 'default');
  assert.equal(r.stdout, 'api\n');
  r = run('-s', src, 'listall', 'nope');
  assert.equal(r.status, 3);
  assert.equal(r.stderr, 'vigil rc: fatal: nope is not a recognized identifier\n');
  const bad = tree({ ...oneshot('a', 'x', { deps: ['ghost'] }), 'b/type': 'longrun \n' });
  r = run('-s', bad, 'check');
  assert.equal(r.status, 1);
  assert.equal(r.stderr.replace(new RegExp(bad, 'g'), 'SRC'), 'vigil rc: fatal: invalid SRC/b/type: must be oneshot, longrun, or bundle\n');
  r = run('-s', path.join(os.tmpdir(), 'vigil-no-such-dir-' + process.pid), 'check');
  assert.equal(r.status, 111);
  assert.match(r.stderr, /^vigil rc: fatal: unable to opendir .*: No such file or directory\n$/);
  r = run('-s', src, 'frobnicate');
  assert.equal(r.status, 100);
  assert.match(r.stderr, /^vigil rc: usage: /);
});
