// The service manager hosted by `vigil svscan --rc`, driven by the `vigil rc` command, with real processes:
// s6-rc's messages and exit codes, the paths and environment s6-overlay scripts depend on, s6's tools on
// the longruns, timeouts, the lock, garbage on the control socket, pipelines, reload, restart, and a
// shutdown during a slow start-up.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { rcTree, longrun, oneshot, bundle, startRcTree, RcTree, writeTree } from '../helpers/rctree';
import { tool, isGoneOrZombie, startBg, VIGIL } from '../helpers/svscan';
import { waitFor, statusOf } from '../helpers/wait';

const trees: RcTree[] = [];
const dirs: string[] = [];
after(() => {
  for (const t of trees) t.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-rcout-'));
  dirs.push(d);
  return d;
}

async function start(src: string, extra: string[] = []): Promise<RcTree> {
  dirs.push(src);
  const t = await startRcTree(src, extra);
  trees.push(t);
  return t;
}

const pidOf = (t: RcTree, name: string) => statusOf(path.join(t.scandir, name))?.pid ?? 0;

test('change: dependency order, the oneshot talks to the caller, s6 tools work, the paths and environment s6-overlay scripts use', async () => {
  const out = tmp();
  const src = rcTree({
    ...oneshot('mount', `sh -c "echo up $RC_NAME in $PWD with $VIGIL_RUNDIR; mkdir ${out}/mnt"\n`, { down: `rmdir ${out}/mnt\n` }),
    ...longrun('web', `sh -c 'test -d ${out}/mnt || exit 9; echo "$PWD $VIGIL_RUNDIR" > ${out}/web.env; exec sleep 1000000'`, { 'dependencies.d/mount': '' }),
    ...bundle('default', ['web']),
  });
  const t = await start(src);
  const r = await t.rc(['-v2', 'change', 'default']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `up mount in ${src}/mount with ${t.rundir}\n`, 'the oneshot gets the tree\'s environment, RC_NAME, its own directory, and the caller\'s stdout');
  assert.equal(r.stderr, [
    'vigil rc: info: service mount: starting', 'vigil rc: info: service mount successfully started',
    'vigil rc: info: service web: starting', 'vigil rc: info: service web successfully started', '',
  ].join('\n'));
  await waitFor(() => fs.existsSync(path.join(out, 'web.env')), 10000, 'web ran');
  assert.equal(fs.readFileSync(path.join(out, 'web.env'), 'utf8'), `${t.live}/servicedirs/web ${t.rundir}\n`, 'run\'s cwd is LIVE/servicedirs/NAME');
  assert.equal(fs.readlinkSync(path.join(t.scandir, 'web')), `${t.live}/servicedirs/web`);
  assert.ok(!fs.existsSync(path.join(t.live, 'servicedirs', 'web', 'down')), './down removed once up');
  const st = await tool('s6-svstat', ['-o', 'up,pid', path.join(t.scandir, 'web')]);
  assert.match(st.stdout, /^true [0-9]+\n$/);
  assert.equal((await t.rc(['-a', 'list'])).stdout, 'web\nmount\n');
  assert.equal((await t.rc(['-da', 'list'])).stdout, '');
  assert.equal((await t.rc(['listall', 'default'])).stdout, 'web\nmount\n');
  assert.equal((await t.rc(['-d', 'listall', 'mount'])).stdout, 'web\nmount\n');
  // s6's own tools act on the longrun; diff shows the disagreement
  assert.equal((await tool('s6-svc', ['-wD', '-d', path.join(t.scandir, 'web')])).code, 0);
  const d = await t.rc(['diff']);
  assert.deepEqual([d.code, d.stdout], [1, '-web\n']);
  assert.equal((await tool('s6-svc', ['-wu', '-u', path.join(t.scandir, 'web')])).code, 0);
  assert.deepEqual([(await t.rc(['diff'])).code], [0]);
  // down: web (dependent) first, then mount's down script
  const down = await t.rc(['-v2', '-d', 'change', 'mount']);
  assert.equal(down.code, 0, down.stderr);
  assert.ok(down.stderr.indexOf('service web successfully stopped') < down.stderr.indexOf('service mount: stopping'), down.stderr);
  assert.ok(!fs.existsSync(path.join(out, 'mnt')));
  assert.ok(fs.existsSync(path.join(t.live, 'servicedirs', 'web', 'down')), './down is back');
  assert.equal(statusOf(path.join(t.scandir, 'web'))!.pid, 0);
  const s = JSON.parse((await t.rc(['status', '--json'])).stdout);
  assert.deepEqual(s.services.map((x: { name: string; state: string; last: { ok: boolean } }) => [x.name, x.state, x.last.ok]), [['web', 'down', true], ['mount', 'down', true]]);
});

test('failures: exit codes and messages of s6-rc, a timeout that names the limit and what was pending, the lock', async () => {
  const src = rcTree({
    ...oneshot('bad', 'sh -c "exit 3"\n'),
    ...oneshot('after-bad', 'true\n', { deps: ['bad'] }),
    ...oneshot('fine', 'true\n'),
    ...bundle('two', ['after-bad', 'fine']),
    ...oneshot('slow', 'sh -c "sleep 4321 & exec sleep 4322"\n'),
    'slow/timeout-up': '300\n',
    ...oneshot('needs-slow', 'true\n', { deps: ['slow'] }),
    ...oneshot('hang', 'sleep 4323\n'),
  });
  const t = await start(src);
  let r = await t.rc(['change', 'two']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'vigil rc: warning: unable to start service bad: command exited 3\nvigil rc: warning: not started because bad failed: after-bad\n');
  assert.equal((await t.rc(['-a', 'list'])).stdout, 'fine\n');
  r = await t.rc(['change', 'nope']);
  assert.deepEqual([r.code, r.stderr], [3, 'vigil rc: fatal: nope is not a recognized identifier\n']);
  r = await t.rc(['change', 'needs-slow']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'vigil rc: warning: unable to start service slow: timed out after 300 ms (timeout-up); sent SIGTERM to its process group; still pending: needs-slow\n'
    + 'vigil rc: warning: not started because slow failed: needs-slow\n');
  const ps = await tool('pgrep', ['-f', 'sleep 432[12]']);
  assert.equal(ps.stdout, '', 'the whole process group got SIGTERM');
  // -t: exit 2 at once, with what was pending
  const t0 = Date.now();
  r = await t.rc(['-t', '400', 'change', 'hang']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'vigil rc: fatal: timed out after 400 ms (the -t limit); still pending: hang (starting)\n');
  assert.ok(Date.now() - t0 < 10000);
  await waitFor(async () => (await tool('pgrep', ['-f', 'sleep 4323'])).stdout === '', 10000, 'hang stopped');
  // the lock: a change while another runs is refused without -b, waits with it
  const bg = t.rc(['change', 'hang'], 60000);
  await waitFor(async () => (await tool('pgrep', ['-f', 'sleep 4323'])).stdout !== '', 10000, 'hang running');
  r = await t.rc(['change', 'fine']);
  assert.deepEqual([r.code, r.stderr], [111, 'vigil rc: fatal: unable to take locks: Resource busy\n']);
  const waiting = t.rc(['-b', '-d', 'change', 'fine']);
  for (const pid of (await tool('pgrep', ['-f', 'sleep 4323'])).stdout.split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGTERM');
  assert.equal((await bg).code, 1);
  assert.equal((await waiting).code, 0);
  assert.equal((await t.rc(['-a', 'list'])).stdout, '');
});

test('longruns: up only once ready with notification-fd; finish exit 125 fails the transition (or, once up, the service)', async () => {
  const src = rcTree({
    ...longrun('ready', `sh -c 'sleep 0.6; echo >&3; exec sleep 1000000'`, { 'notification-fd': '3\n' }),
    ...longrun('quitter', 'false', { finish: '#!/bin/sh\nexit 125\n', 'notification-fd': '3\n' }),
    ...oneshot('after', 'true\n', { deps: ['quitter'] }),
    ...longrun('spawned', 'sh -c "sleep 0.3; exit 1"', { finish: '#!/bin/sh\nexit 125\n' }),
    ...oneshot('after2', 'true\n', { deps: ['spawned'] }),
  });
  const t = await start(src);
  const t0 = Date.now();
  let r = await t.rc(['change', 'ready']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(Date.now() - t0 >= 600, 'waited for readiness');
  assert.equal(statusOf(path.join(t.scandir, 'ready'))!.ready, true);
  r = await t.rc(['change', 'after']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'vigil rc: warning: unable to start service quitter: supervision gave up: finish exited 125 (permanent failure)\n'
    + 'vigil rc: warning: not started because quitter failed: after\n');
  const s = JSON.parse((await t.rc(['status', '--json'])).stdout);
  const q = s.services.find((x: { name: string }) => x.name === 'quitter');
  assert.equal(q.state, 'failed');
  assert.match(q.failed, /finish exited 125/);
  // without notification-fd, up means spawned: the change succeeds, then the service fails and status says so
  r = await t.rc(['change', 'after2']);
  assert.equal(r.code, 0, r.stderr);
  await waitFor(async () => {
    const x = JSON.parse((await t.rc(['status', '--json'])).stdout);
    const sp = x.services.find((y: { name: string }) => y.name === 'spawned');
    const a2 = x.services.find((y: { name: string }) => y.name === 'after2');
    return sp.state === 'failed' && a2.state === 'up' && a2.dependencyFailed.includes('spawned');
  }, 10000, 'spawned failed, after2 told');
  const text = (await t.rc(['status'])).stdout;
  assert.match(text, /^after2 +oneshot +up .*\(dependency failed: spawned\)$/m);
});

test('garbage on the control socket costs only that connection (one line in the tree\'s log)', async () => {
  const t = await start(rcTree({ ...oneshot('a', 'true\n') }));
  const sock = path.join(t.live, 'rc.sock');
  const talk = (data: Buffer | string) => new Promise<string>((resolve) => {
    const c = net.connect(sock);
    let got = '';
    c.on('data', (b) => (got += b));
    c.on('close', () => resolve(got));
    c.on('error', () => resolve(got));
    c.end(data);
  });
  let got = await talk('hello there\n');
  assert.equal(got, '{"t":"msg","level":"fatal","text":"the service manager refused an invalid request (not JSON)"}\n{"t":"exit","code":100}\n');
  got = await talk(Buffer.alloc(70000, 'x'));
  assert.match(got, /refused a request longer than 65536 bytes/);
  got = await talk('{"v":1,"cmd":"change","names":[1]}\n');
  assert.match(got, /bad names/);
  await waitFor(() => (t.bg.stderr().match(/control socket: client pid [0-9]+ \((node|MainThread)\) sent/g) ?? []).length === 3, 5000, 'three log lines');
  const r = await t.rc(['change', 'a']);
  assert.equal(r.code, 0);
  assert.ok(!t.bg.hasExited());
});

test('a pipeline: the producer writes into its consumer through a pipe the supervisor holds; a consumer restart loses nothing', async () => {
  const out = tmp();
  const src = rcTree({
    ...longrun('prod', `sh -c 'i=0; while :; do i=$((i+1)); echo line $i; sleep 0.02; done'`, { 'producer-for': 'cons\n' }),
    ...longrun('cons', `sh -c 'while read l; do echo "$l" >> ${out}/got; done'`, { 'consumer-for': 'prod\n', 'pipeline-name': 'pipe\n' }),
  });
  const t = await start(src);
  const r = await t.rc(['-v2', 'change', 'pipe']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stderr.indexOf('service cons successfully started') < r.stderr.indexOf('service prod: starting'), 'the consumer first');
  const lines = () => (fs.existsSync(path.join(out, 'got')) ? fs.readFileSync(path.join(out, 'got'), 'utf8').trim().split('\n') : []);
  await waitFor(() => lines().length >= 10, 10000, 'lines through the pipe');
  assert.equal((await tool('s6-svc', ['-k', path.join(t.scandir, 'cons')])).code, 0);
  await waitFor(() => lines().length >= 80, 15000, 'more lines after the consumer restarted');
  const nums = lines().map((l) => Number(l.split(' ')[1]));
  nums.forEach((n, i) => assert.equal(n, i + 1, `line ${i + 1} (no line lost or repeated)`));
});

test('reload: add, remove, edit; an unchanged service keeps its process; a bad source changes nothing', async () => {
  const out = tmp();
  const src = rcTree({
    ...longrun('keep', 'sleep 1000001'),
    ...longrun('edit', `sh -c 'echo v1 > ${out}/edit; exec sleep 1000002'`, { 'dependencies.d/keep': '' }),
    ...longrun('gone', 'sleep 1000003'),
    ...bundle('default', ['edit', 'gone']),
  });
  const t = await start(src);
  assert.equal((await t.rc(['change', 'default'])).code, 0);
  await waitFor(() => fs.existsSync(path.join(out, 'edit')), 10000, 'edit v1');
  const keepPid = pidOf(t, 'keep');
  const editPid = pidOf(t, 'edit');
  const gonePid = pidOf(t, 'gone');
  // a bad edit first: refused, nothing moves
  writeTree(src, { 'broken/type': 'longrun \n' });
  let r = await t.rc(['reload']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^vigil rc: fatal: invalid .*\/broken\/type: must be oneshot, longrun, or bundle\nvigil rc: warning: nothing was changed\n$/);
  fs.rmSync(path.join(src, 'broken'), { recursive: true });
  // the real edit
  fs.rmSync(path.join(src, 'gone'), { recursive: true });
  fs.rmSync(path.join(src, 'default', 'contents.d', 'gone'));
  writeTree(src, {
    'edit/run': `#!/bin/sh\nexec sh -c 'echo v2 > ${out}/edit; exec sleep 1000002'\n`,
    ...longrun('new', 'sleep 1000004'),
    'default/contents.d/new': '',
  });
  r = await t.rc(['-v2', 'reload']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /reload: 1 added, 1 removed, 1 edited \(1 to restart\)/);
  await waitFor(() => fs.readFileSync(path.join(out, 'edit'), 'utf8') === 'v2\n', 10000, 'edit runs its new run script');
  assert.equal(pidOf(t, 'keep'), keepPid, 'unchanged: same process');
  assert.notEqual(pidOf(t, 'edit'), editPid);
  assert.ok(isGoneOrZombie(gonePid), 'the removed service was stopped');
  assert.ok(!fs.existsSync(path.join(t.scandir, 'gone')));
  await waitFor(() => !fs.existsSync(path.join(t.live, 'servicedirs', 'gone')), 5000, 'its service directory removed');
  assert.ok(pidOf(t, 'new') > 0, 'new, in the bundle brought up, is up');
  assert.equal((await t.rc(['-a', 'list'])).stdout, 'edit\nkeep\nnew\n');
});

test('restart: the service and its dependents that were up come back up', async () => {
  const src = rcTree({
    ...longrun('db', 'sleep 1000005'), ...longrun('api', 'sleep 1000006', { 'dependencies.d/db': '' }),
    ...longrun('batch', 'sleep 1000007', { 'dependencies.d/db': '' }),
  });
  const t = await start(src);
  assert.equal((await t.rc(['change', 'api'])).code, 0);
  const before = [pidOf(t, 'db'), pidOf(t, 'api')];
  const r = await t.rc(['-v2', 'restart', 'db']);
  assert.equal(r.code, 0, r.stderr);
  const after = [pidOf(t, 'db'), pidOf(t, 'api')];
  assert.ok(after[0] > 0 && after[1] > 0 && after[0] !== before[0] && after[1] !== before[1], `${before} → ${after}`);
  assert.equal(pidOf(t, 'batch'), 0, 'batch was down and stays down');
  assert.equal((await t.rc(['-a', 'list'])).stdout, 'api\ndb\n');
});

test('SIGTERM during a slow start-up: pending transitions are cancelled, everything goes down, the scanner exits', async () => {
  const src = rcTree({
    ...longrun('db', 'sleep 1000008'),
    ...oneshot('hang', 'sleep 1000009\n', { deps: ['db'] }),
    ...longrun('web', 'sleep 1000010', { 'dependencies.d/hang': '' }),
    ...bundle('default', ['web']),
  });
  const t = await start(src);
  const starting = t.rc(['change', 'default'], 60000);
  await waitFor(async () => (await tool('pgrep', ['-f', 'sleep 1000009'])).stdout !== '', 10000, 'hang running');
  const dbPid = pidOf(t, 'db');
  const t0 = Date.now();
  t.bg.signal('SIGTERM');
  const [code] = await t.bg.exited;
  assert.ok(Date.now() - t0 < 8000, `exited in ${Date.now() - t0} ms`);
  assert.equal(code, 0);
  const r = await starting;
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cancelled: the service manager is shutting down/);
  assert.ok(isGoneOrZombie(dbPid));
  assert.equal((await tool('pgrep', ['-f', 'sleep 10000(08|09|10)'])).stdout, '');
});

test('a source refused at start-up: the tree runs, vigil rc says why (exit 4), a fixed source and reload bring it in', async () => {
  const src = rcTree({ ...oneshot('a', 'true\n', { deps: ['ghost'] }) });
  const t = await start(src);
  assert.match(t.bg.stderr(), /vigil rc: fatal: during dependency resolution for service a: undefined service name ghost/);
  let r = await t.rc(['change', 'a']);
  assert.equal(r.code, 4);
  assert.match(r.stderr, /no service database: the sources were refused at start-up/);
  fs.rmSync(path.join(src, 'a', 'dependencies.d'), { recursive: true });
  assert.equal((await t.rc(['reload'])).code, 0);
  r = await t.rc(['change', 'a']);
  assert.equal(r.code, 0, r.stderr);
});

test('-n: a dry run says what it would do and changes nothing', async () => {
  const src = rcTree({ ...oneshot('one', 'echo hi\n'), ...longrun('two', 'sleep 1000011', { 'dependencies.d/one': '' }) });
  const t = await start(src);
  const r = await t.rc(['-v2', '-n', '10', 'change', 'two']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'vigil rc-dryrun: up one: echo hi\nvigil rc-dryrun: up two (longrun)\n');
  assert.match(r.stderr, /vigil rc: info: simulation: service two successfully started/);
  assert.equal((await t.rc(['-a', 'list'])).stdout, '');
  assert.equal(pidOf(t, 'two'), 0);
});

test('the client: no tree → exit 111 naming the socket; SIGINT cancels its change', async () => {
  const nowhere = path.join(os.tmpdir(), `vigil-no-rundir-${process.pid}`);
  const r = await tool(process.execPath, [VIGIL, 'rc', '-l', nowhere, 'list']);
  assert.equal(r.code, 111);
  assert.match(r.stderr, new RegExp(`^vigil rc: fatal: unable to connect to ${nowhere}/rc.sock: No such file or directory`));
  const t = await start(rcTree({ ...oneshot('hang', 'sleep 1000012\n') }));
  const c = startBg(process.execPath, [VIGIL, 'rc', 'change', 'hang'], { env: { ...process.env, VIGIL_RUNDIR: t.rundir } });
  await waitFor(async () => (await tool('pgrep', ['-f', 'sleep 1000012'])).stdout !== '', 10000, 'hang running');
  c.signal('SIGINT');
  const [code] = await c.exited;
  assert.equal(code, 1);
  assert.match(c.stderr(), /vigil rc: warning: cancelled: vigil rc \(pid [0-9]+\) was interrupted/);
  await waitFor(async () => (await tool('pgrep', ['-f', 'sleep 1000012'])).stdout === '', 10000, 'hang stopped');
});

test('start / stop are change -u / -d; -D stops an essential service; -p prunes; -v3 says "already up"; help', async () => {
  const out = tmp();
  const src = rcTree({
    ...oneshot('core', 'true\n', { down: `touch ${out}/core-down\n` }), 'core/flag-essential': '',
    ...oneshot('app', 'true\n', { deps: ['core'] }),
    ...oneshot('other', 'true\n'),
  });
  const t = await start(src);
  assert.equal((await t.rc(['start', 'app', 'other'])).code, 0);
  assert.equal((await t.rc(['-a', 'list'])).stdout, 'app\ncore\nother\n');
  let r = await t.rc(['-v3', 'start', 'core']);
  assert.equal(r.stderr, 'vigil rc: info: bringing selected services up\nvigil rc: info: service core: already up\n');
  r = await t.rc(['stop', 'core']);
  assert.equal(r.code, 0);
  assert.equal(r.stderr, 'vigil rc: warning: service core is marked as essential, not stopping it\n');
  assert.equal((await t.rc(['-a', 'list'])).stdout, 'core\nother\n');
  r = await t.rc(['-pu', 'change', 'app']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await t.rc(['-a', 'list'])).stdout, 'app\ncore\n', '-p brought other down');
  r = await t.rc(['-D', 'change', 'core']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(fs.existsSync(path.join(out, 'core-down')));
  assert.equal((await t.rc(['-a', 'list'])).stdout, '');
  r = await t.rc(['help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^usage: vigil rc /);
  r = await t.rc(['-x', 'list']);
  assert.equal(r.code, 100);
});

test('one service manager per live directory: a second vigil svscan --rc on the same RUNDIR is refused, the first untouched', async () => {
  const src = rcTree({ ...longrun('web', 'sleep 1000013') });
  const t = await start(src);
  assert.equal((await t.rc(['change', 'web'])).code, 0);
  const pid = pidOf(t, 'web');
  const second = await tool(process.execPath, [VIGIL, 'svscan', '--rc', src, t.scandir], 20000);
  assert.equal(second.code, 111);
  assert.equal(second.stderr, `vigil svscan: fatal: another service manager is running on ${t.live} (its lock is held)\n`);
  assert.equal(pidOf(t, 'web'), pid);
  assert.ok(!fs.existsSync(path.join(t.live, 'servicedirs', 'web', 'down')), 'its down file was not put back');
  assert.equal((await t.rc(['-a', 'list'])).stdout, 'web\n');
});
