// `vigil init` in container mode as PID 1 of `unshare --pid --fork --mount-proc --mount`: the fifo trick and
// the catch-all logger, stage 2 ordering, services never exposed to a readerless fifo, CMD and exit codes,
// signals, stopping within (and before the end of) the grace time.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import * as http from 'node:http';
import { bootInit, liveDescendants, REPO, VIGIL } from '../helpers/init-ns';
import { makeTree, tmpdir } from '../helpers/scandir';
import { waitFor } from '../helpers/wait';
import { readStatus } from '../../src/formats/status';
import { tainToUnixMs } from '../../src/formats/tai64n';
import { readDtally } from '../../src/formats/dtally';
import { native } from '../../src/sys/native';

const N = 300;

/** a stage 2 that checks the logger is ready (with the real s6-svstat), prints N lines, exits */
const RC_INIT = `#!/bin/sh
echo "stage2-first logger-ready=$(s6-svstat -o ready "$VIGIL_RUNDIR/service/s6-svscan-log")"
i=1; while [ $i -le ${N} ]; do echo "stage2-line $i"; i=$((i+1)); done
echo stage2-last
`;
/** prints at once when started (the SIGPIPE flaw: must never die of it) and stays up */
const EAGER = '#!/bin/sh\necho "eager-start $$"\nexec sleep 100000\n';

function tree(extra: Record<string, string> = {}): Record<string, string> {
  return { 'rc.init!': RC_INIT, 'service/eager/run!': EAGER, 'service/quiet/run!': '#!/bin/sh\nexec sleep 100000\n', ...extra };
}

test('container boot, the catch-all logger inside init: stage 2 and every line in uncaught-logs, nothing on the console, CMD exit code', { timeout: 30000 }, async (t) => {
  const b = await bootInit(t, {
    tree: tree(),
    cmd: ['/bin/sh', '-c', 'echo cmd-says-hi; test -e "$VIGIL_RUNDIR/service/eager/supervise/status" || exit 99; touch "$VIGIL_RUNDIR/cmd-up"; while ! test -e "$VIGIL_RUNDIR/go"; do sleep 0.02; done; exit 7'],
  });
  await waitFor(() => fs.existsSync(path.join(b.rundir, 'cmd-up')), 10000, 'CMD to start');
  // the logger is PID 1 itself: it holds the logdir's lock; s6-svscan-log only holds the fifo (normally down)
  const lock = fs.openSync(path.join(b.rundir, 'uncaught-logs', 'lock'), 'r');
  const holder = native().lockHolder(lock);
  fs.closeSync(lock);
  assert.ok(holder !== 0, 'nobody holds uncaught-logs/lock');
  const st = readStatus(path.join(b.rundir, 'service', 's6-svscan-log'));
  assert.equal(st.pid, 0, 'a process runs in s6-svscan-log');
  fs.writeFileSync(path.join(b.rundir, 'go'), '');
  const r = await b.exited(20000);
  assert.equal(r.code, 7, `exit code\n${b.stderr()}`);
  const lines = b.logLines();
  for (let i = 1; i <= N; i++) assert.ok(lines.includes(`stage2-line ${i}`), `stage2-line ${i} missing from uncaught-logs`);
  assert.ok(lines.includes('stage2-last'));
  assert.equal(lines.filter((l) => l.startsWith('eager-start')).length, 1, lines.join('\n'));
  assert.equal(readDtally(path.join(b.rundir, 'service', 'eager')).filter((d) => d.sig === 13).length, 0, 'the eager service died of SIGPIPE');
  assert.match(b.stdout(), /cmd-says-hi/);
  assert.ok(!lines.includes('cmd-says-hi'));
  // the copy to the container's stdout (docker logs), and nothing of it on stderr
  assert.match(b.stdout(), /stage2-last/);
  assert.doesNotMatch(b.stderr(), /stage2-line|catch-all logger/);
  // the logdir was closed cleanly at the end (current 0744)
  assert.equal(fs.statSync(path.join(b.rundir, 'uncaught-logs', 'current')).mode & 0o777, 0o744);
});

test('--external-logger: stage 2 starts after the logger service is ready, every line lands in uncaught-logs, CMD exit code', { timeout: 30000 }, async (t) => {
  const b = await bootInit(t, {
    tree: tree(),
    // a loaded machine must not turn this into the "slow logger" path
    args: ['--external-logger', '--logger-timeout', '20000'],
    cmd: ['/bin/sh', '-c', 'echo cmd-says-hi; test -e "$VIGIL_RUNDIR/service/eager/supervise/status" || exit 99; touch "$VIGIL_RUNDIR/cmd-up"; while ! test -e "$VIGIL_RUNDIR/go"; do sleep 0.02; done; exit 7'],
  });
  await waitFor(() => fs.existsSync(path.join(b.rundir, 'cmd-up')), 10000, 'CMD to start');
  // the logger's readiness stamp, read while it runs (after it stops the stamp is "down and ready")
  const st = readStatus(path.join(b.rundir, 'service', 's6-svscan-log'));
  assert.ok(st.ready && st.pid > 0, 'the catch-all logger is not up and ready');
  fs.writeFileSync(path.join(b.rundir, 'go'), '');
  const r = await b.exited(20000);
  assert.equal(r.code, 7, `exit code\n${b.stderr()}`);
  const lines = b.logLines();
  const first = lines.findIndex((l) => l.startsWith('stage2-first'));
  assert.ok(first >= 0, `no stage 2 line in uncaught-logs:\n${lines.join('\n')}`);
  assert.equal(lines[first], 'stage2-first logger-ready=true', 'the logger was not ready when stage 2 started');
  for (let i = 1; i <= N; i++) assert.ok(lines.includes(`stage2-line ${i}`), `stage2-line ${i} missing from uncaught-logs`);
  assert.ok(lines.includes('stage2-last'));
  // the TAI64N stamps: the logger's readiness (its status) is before stage 2's first line
  const readyMs = tainToUnixMs(st.readyStamp);
  const firstMs = b.stampedLines().find(([, l]) => l.startsWith('stage2-first'))![0];
  assert.ok(readyMs <= firstMs, `logger ready at ${readyMs}, stage 2's first line at ${firstMs}`);
  // the eager service printed once, never restarted (no SIGPIPE death)
  assert.equal(lines.filter((l) => l.startsWith('eager-start')).length, 1, lines.join('\n'));
  assert.equal(readDtally(path.join(b.rundir, 'service', 'eager')).filter((d) => d.sig === 13).length, 0, 'the eager service died of SIGPIPE');
  // CMD's own output went to the container's stdout, not to the logger
  assert.match(b.stdout(), /cmd-says-hi/);
  assert.ok(!lines.includes('cmd-says-hi'));
  // the catch-all logger copies to the container's stdout (docker logs shows everything)
  assert.match(b.stdout(), /stage2-last/);
});

test('WORKDIR: CMD starts in the directory init was started in (a name with a space); stage 2 in /, services in their own dir', { timeout: 30000 }, async (t) => {
  const top = tmpdir('vigil-workdir-');
  t.after(() => fs.rmSync(top, { recursive: true, force: true }));
  const app = path.join(top, 'my app');
  fs.mkdirSync(path.join(app, 'bin'), { recursive: true });
  // a relative CMD (./server.sh) and a relative PATH entry (bin) are both taken from the working directory
  fs.writeFileSync(path.join(app, 'server.sh'), '#!/bin/sh\npwd -P > "$VIGIL_RUNDIR/cmd-pwd"\nwhile ! test -s "$VIGIL_RUNDIR/service-pwd"; do sleep 0.02; done\nexec helper\n', { mode: 0o755 });
  fs.writeFileSync(path.join(app, 'bin', 'helper'), '#!/bin/sh\ntest -e server.sh && exit 12\nexit 13\n', { mode: 0o755 });
  const b = await bootInit(t, {
    tree: tree({
      'rc.init!': '#!/bin/sh\npwd -P > "$VIGIL_RUNDIR/stage2-pwd"\n',
      'service/where/run!': '#!/bin/sh\npwd -P > "$VIGIL_RUNDIR/service-pwd"\nexec sleep 100000\n',
    }),
    cwd: app,
    env: { PATH: `bin:${process.env.PATH}` },
    cmd: ['./server.sh'],
  });
  const r = await b.exited(20000);
  assert.equal(r.code, 12, `CMD did not find ./server.sh and bin/helper from its working directory\n${b.stderr()}`);
  assert.equal(fs.readFileSync(path.join(b.rundir, 'cmd-pwd'), 'utf8').trim(), fs.realpathSync(app));
  assert.equal(fs.readFileSync(path.join(b.rundir, 'stage2-pwd'), 'utf8').trim(), '/');
  assert.equal(fs.readFileSync(path.join(b.rundir, 'service-pwd'), 'utf8').trim(), fs.realpathSync(path.join(b.rundir, 'service', 'where')));
});

test('--no-logger-wait: stage 2 at once, still every line in uncaught-logs, no service dies of SIGPIPE', { timeout: 30000 }, async (t) => {
  const b = await bootInit(t, { tree: tree({ 'rc.init!': RC_INIT.replace('stage2-first', 'stage2-first-nowait') }), args: ['--no-logger-wait'], cmd: ['/bin/sh', '-c', 'sleep 0.5; exit 3'] });
  const r = await b.exited(20000);
  assert.equal(r.code, 3, b.stderr());
  const lines = b.logLines();
  assert.ok(lines.some((l) => l.startsWith('stage2-first-nowait')), lines.join('\n'));
  for (let i = 1; i <= N; i++) assert.ok(lines.includes(`stage2-line ${i}`), `stage2-line ${i} missing`);
  assert.equal(lines.filter((l) => l.startsWith('eager-start')).length, 1, lines.join('\n'));
});

test('SIGTERM: everything stops before the grace time when all exit at once; CMD TERMed → 143', { timeout: 30000 }, async (t) => {
  const b = await bootInit(t, { tree: tree(), args: ['--grace', '8000'], cmd: ['/bin/sh', '-c', 'touch "$VIGIL_RUNDIR/cmd-up"; exec sleep 100000'] });
  await waitFor(() => fs.existsSync(path.join(b.rundir, 'cmd-up')), 10000, 'CMD to start');
  const before = liveDescendants(b.pid1);
  assert.ok(before.length >= 3, `expected 2 services and CMD: ${before}`);
  const t0 = Date.now();
  b.signal('SIGTERM');
  const r = await b.exited(15000);
  const ms = r.at - t0;
  assert.equal(r.code, 143, b.stderr());
  assert.ok(ms < 8000, `stopping took ${ms} ms: the whole grace time was waited`);
  t.diagnostic(`SIGTERM → namespace gone in ${ms} ms (grace 8000)`);
  for (const p of before) assert.ok(!fs.existsSync(`/proc/${p}`), `pid ${p} survived`);
});

test('SIGTERM: a process that ignores TERM is KILLed when the grace time ends', { timeout: 30000 }, async (t) => {
  const b = await bootInit(t, {
    tree: tree({ 'service/stubborn/run!': '#!/bin/sh\ntrap "" TERM\ntouch "$VIGIL_RUNDIR/stubborn-up"\nwhile :; do sleep 0.05; done\n' }),
    args: ['--grace', '1500'],
  });
  await waitFor(() => fs.existsSync(path.join(b.rundir, 'stubborn-up')), 10000, 'stubborn service');
  const t0 = Date.now();
  b.signal('SIGTERM');
  const r = await b.exited(15000);
  const ms = r.at - t0;
  assert.equal(r.code, 0, b.stderr());
  assert.ok(ms >= 1400, `stopped after ${ms} ms, before the grace time`);
  assert.ok(ms < 1500 + 4000, `stopped after ${ms} ms`);
});

test('exit codes: CMD killed by signal → 128+N; missing → 127 with a message; not executable → 126', { timeout: 40000 }, async (t) => {
  const a = await bootInit(t, { tree: tree(), cmd: ['/bin/sh', '-c', 'kill -KILL $$'] });
  assert.equal((await a.exited(20000)).code, 137, a.stderr());
  const m = await bootInit(t, { tree: tree(), cmd: ['no-such-program-vigil', 'x'] });
  assert.equal((await m.exited(20000)).code, 127, m.stderr());
  assert.match(m.stderr(), /vigil init: no-such-program-vigil: not found/);
  const n = await bootInit(t, { tree: tree(), cmd: ['/etc/passwd'] });
  assert.equal((await n.exited(20000)).code, 126, n.stderr());
  assert.match(n.stderr(), /vigil init: \/etc\/passwd: not executable/);
});

test('exit code from RUNDIR/vigil/exitcode when there is no CMD; stage 2 halts with vigil halt', { timeout: 30000 }, async (t) => {
  const b = await bootInit(t, {
    tree: tree({ 'rc.init!': `#!/bin/sh\necho 42 > "$VIGIL_RUNDIR/vigil/exitcode"\nexec ${VIGIL} halt\n`, 'rc.shutdown!': '#!/bin/sh\necho "rc.shutdown $1" > "$VIGIL_RUNDIR/rc-shutdown-ran"\n' }),
  });
  const r = await b.exited(20000);
  assert.equal(r.code, 42, b.stderr());
  assert.equal(fs.readFileSync(path.join(b.rundir, 'rc-shutdown-ran'), 'utf8'), 'rc.shutdown halt\n');
});

test('HUP/USR1/QUIT/WINCH to PID 1 reach CMD; the container exits with the status CMD chooses on TERM', { timeout: 30000 }, async (t) => {
  const script = `
trap 'echo HUP >> "$VIGIL_RUNDIR/got"' HUP
trap 'echo USR1 >> "$VIGIL_RUNDIR/got"' USR1
trap 'echo WINCH >> "$VIGIL_RUNDIR/got"' WINCH
trap 'exit 9' TERM
touch "$VIGIL_RUNDIR/ready"
while :; do sleep 0.05; done`;
  const b = await bootInit(t, { tree: tree(), cmd: ['/bin/sh', '-c', script] });
  const got = path.join(b.rundir, 'got');
  await waitFor(() => fs.existsSync(path.join(b.rundir, 'ready')), 10000, 'CMD ready');
  b.signal('SIGHUP');
  await waitFor(() => fs.existsSync(got) && fs.readFileSync(got, 'utf8').includes('HUP'), 5000, 'HUP forwarded');
  b.signal('SIGUSR1');
  await waitFor(() => fs.readFileSync(got, 'utf8').includes('USR1'), 5000, 'USR1 forwarded');
  b.signal('SIGWINCH');
  await waitFor(() => fs.readFileSync(got, 'utf8').includes('WINCH'), 5000, 'WINCH forwarded');
  b.signal('SIGTERM');
  const r = await b.exited(10000);
  assert.equal(r.code, 9, b.stderr());
});

test('a catch-all logger inside init that cannot open its logdir: one message, stage 2 and services run, their output reaches the console', { timeout: 30000 }, async (t) => {
  const b = await bootInit(t, {
    tree: tree(),
    args: ['--logger-timeout', '1500'],
    prepare: (rundir) => fs.writeFileSync(path.join(rundir, 'uncaught-logs'), 'not a directory\n'),
    cmd: ['/bin/sh', '-c', 'touch "$VIGIL_RUNDIR/cmd-up"; while ! test -e "$VIGIL_RUNDIR/go"; do sleep 0.02; done; exit 4'],
  });
  await waitFor(() => fs.existsSync(path.join(b.rundir, 'cmd-up')), 10000, `CMD to start\n${b.stderr()}`);
  await waitFor(() => b.stderr().includes('stage2-last'), 10000, `stage 2's last line on the console\n${b.stderr()}`);
  assert.match(b.stderr(), /catch-all logger is down: uncaught output goes to the console/);
  assert.match(b.stderr(), /stage2-first/);
  // (the services start beside stage 2, not before it)
  await waitFor(() => b.stderr().includes('eager-start'), 10000, `the eager service's line on the console\n${b.stderr()}`);
  // it is retried every second, and said once
  assert.equal(b.stderr().split('\n').filter((l) => /catch-all logger: .*restarting it/.test(l)).length, 1, b.stderr());
  // the logdir comes back: the logger is up again and takes the next lines
  fs.rmSync(path.join(b.rundir, 'uncaught-logs'));
  fs.mkdirSync(path.join(b.rundir, 'uncaught-logs'));
  await waitFor(() => fs.existsSync(path.join(b.rundir, 'uncaught-logs', 'lock')), 10000, 'the logger restarted');
  assert.equal(readDtally(path.join(b.rundir, 'service', 'eager')).length, 0, 'eager service died');
  fs.writeFileSync(path.join(b.rundir, 'go'), '');
  const r = await b.exited(15000);
  assert.equal(r.code, 4, b.stderr());
});

test('--external-logger that keeps crashing: stage 2 and services run, their output reaches the console', { timeout: 30000 }, async (t) => {
  const b = await bootInit(t, {
    tree: tree(),
    args: ['--external-logger', '--logger-timeout', '1500'],
    // uncaught-logs is a regular file: the logger cannot open its logdir and exits every time it starts
    prepare: (rundir) => fs.writeFileSync(path.join(rundir, 'uncaught-logs'), 'not a directory\n'),
    cmd: ['/bin/sh', '-c', 'touch "$VIGIL_RUNDIR/cmd-up"; while ! test -e "$VIGIL_RUNDIR/go"; do sleep 0.02; done; exit 4'],
  });
  await waitFor(() => fs.existsSync(path.join(b.rundir, 'cmd-up')), 10000, `CMD to start\n${b.stderr()}`);
  await waitFor(() => b.stderr().includes('stage2-last'), 10000, `stage 2's last line on the console\n${b.stderr()}`);
  assert.match(b.stderr(), /catch-all logger is not ready/);
  assert.match(b.stderr(), /stage2-first/);
  // (the services start beside stage 2, not before it)
  await waitFor(() => b.stderr().includes('eager-start'), 10000, `the eager service's line on the console\n${b.stderr()}`);
  // the logger really is crashing (restarted, several deaths), and nothing else died
  await waitFor(() => readDtally(path.join(b.rundir, 'service', 's6-svscan-log')).length >= 2, 10000, 'logger deaths');
  const eager = readStatus(path.join(b.rundir, 'service', 'eager'));
  assert.ok(eager.pid > 0 && !eager.finishing, 'eager service is not up');
  assert.equal(readDtally(path.join(b.rundir, 'service', 'eager')).length, 0, 'eager service died');
  fs.writeFileSync(path.join(b.rundir, 'go'), '');
  const r = await b.exited(15000);
  assert.equal(r.code, 4, b.stderr());
});

test('non-root PID 1 (uid 4321) with only a writable rundir: boot, services, CMD exit code, TERM', { timeout: 30000 }, async (t) => {
  const b = await bootInit(t, {
    tree: tree(),
    uid: 4321,
    cmd: ['/bin/sh', '-c', 'id -u > "$VIGIL_RUNDIR/cmd-uid.tmp"; mv "$VIGIL_RUNDIR/cmd-uid.tmp" "$VIGIL_RUNDIR/cmd-uid"; exec sleep 100000'],
  });
  await waitFor(() => fs.existsSync(path.join(b.rundir, 'cmd-uid')), 10000, `CMD to start\n${b.stderr()}`);
  assert.equal(fs.readFileSync(path.join(b.rundir, 'cmd-uid'), 'utf8').trim(), '4321');
  await waitFor(() => b.logLines().includes('stage2-last'), 10000, `stage 2 logged\n${b.stderr()}`);
  assert.equal(fs.statSync(path.join(b.rundir, 'uncaught-logs', 'current')).uid, 4321);
  b.signal('SIGTERM');
  const r = await b.exited(10000);
  assert.equal(r.code, 143, b.stderr());
});

test('s6-svscanctl -t on the scan directory ends the container cleanly', { timeout: 30000 }, async (t) => {
  const b = await bootInit(t, { tree: tree() });
  await waitFor(() => b.logLines().includes('stage2-last'), 10000, 'stage 2');
  const r0 = spawnSync('s6-svscanctl', ['-t', path.join(b.rundir, 'service')], { encoding: 'utf8' });
  assert.equal(r0.status, 0, r0.stderr);
  const r = await b.exited(10000);
  assert.equal(r.code, 0, b.stderr());
  assert.match(b.stdout() + b.stderr(), /the supervision tree is stopping/);
});

test('not PID 1: a subreaper under another init; orphans are ours and are stopped on TERM', { timeout: 30000 }, async (t) => {
  const base = makeTree({
    ...tree(),
    // a service that leaves a double-forked orphan behind
    'service/forker/run!': '#!/bin/sh\n(sleep 100000 & echo $! > "$VIGIL_RUNDIR/orphan.tmp"; mv "$VIGIL_RUNDIR/orphan.tmp" "$VIGIL_RUNDIR/orphan")\nexec sleep 100000\n',
  });
  const rundir = tmpdir('vigil-init-sub-');
  const child = spawn(process.execPath, [VIGIL, 'init', '--basedir', base, '--rundir', rundir, '--', '/bin/sh', '-c', 'touch "$VIGIL_RUNDIR/cmd-up"; exec sleep 100000'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  child.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: string | null }>((res) => child.on('exit', (code, signal) => res({ code, signal })));
  t.after(() => {
    for (const p of liveDescendants(child.pid!)) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
    try { child.kill('SIGKILL'); } catch { /* gone */ }
    fs.rmSync(base, { recursive: true, force: true });
    fs.rmSync(rundir, { recursive: true, force: true });
  });
  const orphanFile = path.join(rundir, 'orphan');
  await waitFor(() => fs.existsSync(orphanFile), 10000, `the orphan\n${err}`);
  const orphan = Number(fs.readFileSync(orphanFile, 'utf8'));
  // re-parented to vigil init (the subreaper), not to the machine's init
  await waitFor(() => fs.readFileSync(`/proc/${orphan}/stat`, 'latin1').split(') ')[1].split(' ')[1] === String(child.pid), 5000, 'orphan re-parented to vigil init');
  await waitFor(() => fs.existsSync(path.join(rundir, 'cmd-up')), 10000, `CMD to start\n${err}`);
  const before = liveDescendants(child.pid!);
  child.kill('SIGTERM');
  const r = await Promise.race([exited, new Promise<never>((_r, rej) => setTimeout(() => rej(new Error(`still running\n${err}`)), 10000))]);
  assert.equal(r.code, 143, err);
  for (const p of before) assert.ok(!fs.existsSync(`/proc/${p}`) || fs.readFileSync(`/proc/${p}/stat`, 'latin1').includes(') Z '), `pid ${p} survived`);
});

test('examples/basedir boots: readiness, the HTTP service answers, its own logger, clean TERM', { timeout: 30000 }, async (t) => {
  const port = String(20000 + (process.pid % 20000));
  const b = await bootInit(t, {
    basedirPath: path.join(REPO, 'examples', 'basedir'),
    env: { HELLO_PORT: port, PATH: `${path.join(REPO, 'bin')}:${process.env.PATH}` },
  });
  await waitFor(() => b.logLines().includes('rc.init: hello is ready'), 15000, `rc.init saw hello ready\n${b.stderr()}`);
  assert.ok(b.logLines().some((l) => l.startsWith('rc.init: runlevel default, mode container, greeting "hello from vigil"')), b.logLines().join('\n'));
  const body = await new Promise<string>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: Number(port), path: '/' }, (res) => {
      let d = '';
      res.on('data', (c) => (d += c));
      res.on('end', () => resolve(d));
    }).on('error', reject);
  });
  assert.equal(body, 'hello from vigil\n');
  await waitFor(() => fs.existsSync(path.join(b.rundir, 'ticker-log', 'current')) && fs.readFileSync(path.join(b.rundir, 'ticker-log', 'current'), 'utf8').includes('tick 0'), 10000, 'ticker log');
  b.signal('SIGTERM');
  const r = await b.exited(10000);
  assert.equal(r.code, 0, b.stderr());
  assert.match(b.stderr() + b.stdout(), /rc.shutdown.final: halt/);
});

test('--external-logger, a slow catch-all logger: stage 2 starts after --logger-timeout, its output is held and still lands in uncaught-logs', { timeout: 30000 }, async (t) => {
  // every node started in the namespace loads this; only the catch-all logger's run (…/s6-svscan-log/run)
  // sleeps 2 s before it opens the fifo
  const slow = path.join(tmpdir('vigil-slow-'), 'slow.js');
  fs.writeFileSync(slow, "if ((process.argv[1] || '').endsWith('/s6-svscan-log/run')) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2000);\n");
  t.after(() => fs.rmSync(path.dirname(slow), { recursive: true, force: true }));
  const b = await bootInit(t, {
    tree: tree({ 'rc.init!': RC_INIT.replace('stage2-first', 'stage2-first-slow') }),
    args: ['--external-logger', '--logger-timeout', '300'],
    env: { NODE_OPTIONS: `--require ${slow}` },
    cmd: ['/bin/sh', '-c', 'while ! test -e "$VIGIL_RUNDIR/go"; do sleep 0.02; done; exit 6'],
  });
  await waitFor(() => b.logLines().includes('stage2-last'), 15000, `stage 2's lines in uncaught-logs\n${b.stderr()}`);
  const lines = b.logLines();
  // stage 2 ran before the logger was ready (it says so), yet nothing was lost or sent to the console
  assert.ok(lines.some((l) => l === 'stage2-first-slow logger-ready=false'), lines.slice(0, 5).join('\n'));
  for (let i = 1; i <= N; i++) assert.ok(lines.includes(`stage2-line ${i}`), `stage2-line ${i} missing`);
  assert.equal(lines.filter((l) => l.startsWith('eager-start')).length, 1);
  assert.doesNotMatch(b.stderr(), /uncaught output goes to the console/);
  fs.writeFileSync(path.join(b.rundir, 'go'), '');
  assert.equal((await b.exited(10000)).code, 6, b.stderr());
});

test('a console that does not read never stalls PID 1: what it cannot take is dropped and counted', { timeout: 40000 }, async (t) => {
  const line = 'x'.repeat(99);
  const b = await bootInit(t, {
    tree: tree({ 'service/spew/run!': `#!/bin/sh\ni=0; while [ $i -lt 6000 ]; do echo "spew $i ${line}"; i=$((i+1)); done\ntouch "$VIGIL_RUNDIR/spewed"\nexec sleep 100000\n` }),
    // the catch-all logger cannot run: the uncaught output (600 kB) goes to the console, which nobody reads
    args: ['--logger-timeout', '300'],
    prepare: (rundir) => fs.writeFileSync(path.join(rundir, 'uncaught-logs'), 'not a directory\n'),
  });
  b.child.stderr!.pause();
  b.child.stdout!.pause();
  // a PID 1 that waited on its console would take ~1 s per message here (minutes in all)
  await waitFor(() => fs.existsSync(path.join(b.rundir, 'spewed')), 15000, 'the service to get all its lines out');
  const t0 = Date.now();
  const r0 = spawnSync('s6-svscanctl', ['-a', path.join(b.rundir, 'service')], { encoding: 'utf8', timeout: 5000 });
  assert.equal(r0.status, 0, r0.stderr);
  b.child.stderr!.resume();
  b.child.stdout!.resume();
  await waitFor(() => /vigil init: [0-9]+ console lines were dropped/.test(b.stderr()), 10000, 'the count of dropped console lines');
  b.signal('SIGTERM');
  const r = await b.exited(10000);
  t.diagnostic(`console blocked: TERM → gone in ${r.at - t0} ms`);
  assert.equal(r.code, 0, b.stderr().slice(-2000));
});
