// `vigil init` as the entrypoint of an s6-overlay v3 image, unchanged: PID 1 of a PID + mount namespace whose
// /etc is the image's (an overlay of a temp dir on the host's /etc) and whose /run is a temp dir. The trees are
// written as image authors write them: oneshots whose `up` is a script's path, a comment-only `up`, `user` and
// `user2` with only contents.d, dependencies.d on base and legacy-services, cont-init.d, services.d and
// cont-finish.d scripts, S6_* settings, CMD in the WORKDIR with its exit code.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bootInit, orderLines, BootOptions } from '../helpers/init-ns';
import { tmpdir } from '../helpers/scandir';
import { statusOf, waitFor } from '../helpers/wait';
import { tool } from '../helpers/svscan';
import { VIGIL } from '../helpers/init-ns';
import { FAULT_PRELOAD, faultDirs, holdingCmd, injectFault, logdirLines, releaseCmd } from '../helpers/reexec';

const exists = (p: string): boolean => fs.existsSync(p);

/** the image's /etc over the host's, its /run a temp dir the test reads */
const IMAGE_ROOT = 'mount --bind "$RUNDIR" /run\nmount -t overlay overlay -o "lowerdir=$BASEDIR/etc:/etc" /etc';

const rc = 'etc/s6-overlay/s6-rc.d';
const note = (what: string): string => `#!/bin/sh\necho ${what} >> /run/order\n`;

function image(extra: Record<string, string> = {}): Record<string, string> {
  return {
    // a oneshot whose up is the path of an executable next to it (linuxserver's layout)
    [`${rc}/init-setup/type`]: 'oneshot\n',
    [`${rc}/init-setup/up`]: '/etc/s6-overlay/s6-rc.d/init-setup/run\n',
    [`${rc}/init-setup/run!`]: note('init-setup'),
    [`${rc}/init-setup/dependencies.d/base`]: '',
    // a comment-only up: always succeeds
    [`${rc}/init-nothing/type`]: 'oneshot\n',
    [`${rc}/init-nothing/up`]: '# nothing to do, kept for the dependency chain\n',
    [`${rc}/init-nothing/dependencies.d/base`]: '',
    [`${rc}/svc-web/type`]: 'longrun\n',
    [`${rc}/svc-web/run!`]: '#!/bin/sh\necho "svc-web in $(pwd)" >> /run/order\nexec sleep 100000\n',
    [`${rc}/svc-web/dependencies.d/init-setup`]: '',
    [`${rc}/svc-web/dependencies.d/init-nothing`]: '',
    // user and user2 as images made for s6-overlay <= 3.2.3.1 ship them: contents.d only, no type
    [`${rc}/user/contents.d/svc-web`]: '',
    [`${rc}/user/contents.d/init-setup`]: '',
    [`${rc}/init-late/type`]: 'oneshot\n',
    [`${rc}/init-late/up`]: '/etc/s6-overlay/s6-rc.d/init-late/run\n',
    [`${rc}/init-late/run!`]: note('init-late'),
    [`${rc}/init-late/dependencies.d/legacy-services`]: '',
    [`${rc}/user2/contents.d/init-late`]: '',
    'etc/cont-init.d/20-second!': note('cont-init-20'),
    'etc/cont-init.d/10-first!': '#!/bin/sh\necho "cont-init-10 MYVAR=$MYVAR" >> /run/order\n',
    'etc/services.d/legacy/run!': '#!/bin/sh\necho "legacy in $(pwd)" >> /run/order\nexec sleep 100000\n',
    'etc/cont-finish.d/99-bye!': note('cont-finish-99'),
    ...extra,
  };
}

const order = orderLines;

async function boot(t: Parameters<typeof bootInit>[0], o: BootOptions): Promise<Awaited<ReturnType<typeof bootInit>>> {
  // S6_LOGGING=1 (the catch-all log and the copy) unless a test says otherwise: the tests read the log
  return bootInit(t, { plain: true, inner: IMAGE_ROOT, ...o, env: { MYVAR: 'from-docker-run', S6_LOGGING: '1', ...(o.env ?? {}) } });
}

test('an s6-overlay image runs unchanged: cont-init.d, s6-rc.d (user, user2), services.d, CMD in WORKDIR with its exit code, cont-finish.d', { timeout: 60000 }, async (t) => {
  const workdir = tmpdir('vigil-s6o-workdir-');
  t.after(() => fs.rmSync(workdir, { recursive: true, force: true }));
  const b = await boot(t, {
    tree: image(),
    cwd: workdir,
    cmd: ['/bin/sh', '-c', 'echo "cmd in $(pwd) MYVAR=$MYVAR dumped=$(cat /run/s6/container_environment/MYVAR)" >> /run/order; '
      + 'readlink /run/service/svc-web /run/service/legacy >> /run/order; exit 7'],
  });
  const r = await b.exited(30000);
  assert.equal(r.code, 7, b.stderr() + b.stdout());
  const lines = order(b.rundir);
  const log = b.logLines().join('\n');
  // cont-init.d in lexical order, in the tree's environment (PATH only: S6_KEEP_ENV=0)
  assert.deepEqual(lines.slice(0, 2), ['cont-init-10 MYVAR=', 'cont-init-20'], lines.join('\n') + log);
  const at = (l: string): number => {
    const i = lines.findIndex((x) => x.startsWith(l));
    assert.ok(i >= 0, `${l} in\n${lines.join('\n')}\n${log}`);
    return i;
  };
  assert.ok(at('init-setup') > at('cont-init-20'));
  assert.equal(lines[at('svc-web')], 'svc-web in /run/s6-rc/servicedirs/svc-web');
  assert.ok(at('svc-web') > at('init-setup'));
  assert.ok(at('init-late') > at('svc-web'), 'user2 (after legacy-services) after user');
  assert.equal(lines[at('legacy')], 'legacy in /run/s6/legacy-services/legacy');
  assert.equal(lines[at('cmd')], `cmd in ${workdir} MYVAR= dumped=from-docker-run`);
  assert.ok(at('cmd') > at('init-late'));
  assert.deepEqual(lines.slice(at('cmd') + 1, at('cmd') + 3), ['/run/s6-rc/servicedirs/svc-web', '/run/s6/legacy-services/legacy']);
  assert.equal(lines[lines.length - 1], 'cont-finish-99', 'cont-finish.d at shutdown, last');
  assert.equal(fs.readFileSync(path.join(b.rundir, 's6-linux-init-container-results', 'exitcode'), 'utf8').trim(), '7');
  assert.match(log, /cont-init: info: running \/etc\/cont-init.d\/10-first/);
  assert.match(log, /cont-init: info: \/etc\/cont-init.d\/20-second exited 0/);
});

test('S6_BEHAVIOUR_IF_STAGE2_FAILS: 0 goes on to CMD; 2 stops the container with exit 1 before CMD', { timeout: 60000 }, async (t) => {
  const failing = { 'etc/cont-init.d/15-broken!': '#!/bin/sh\necho cont-init-broken >> /run/order\nexit 4\n' };
  const cmd = ['/bin/sh', '-c', 'echo cmd >> /run/order; exit 5'];
  const b = await boot(t, { tree: image(failing), cmd });
  const r = await b.exited(30000);
  assert.equal(r.code, 5, b.stderr());
  assert.ok(order(b.rundir).includes('cmd'));
  assert.ok(b.logLines().includes('cont-init: info: /etc/cont-init.d/15-broken exited 4'), b.logLines().join('\n'));
  const s = await boot(t, { tree: image(failing), cmd, env: { S6_BEHAVIOUR_IF_STAGE2_FAILS: '2' } });
  const rs = await s.exited(30000);
  assert.equal(rs.code, 1, s.stderr());
  const lines = order(s.rundir);
  assert.ok(!lines.includes('cmd') && !lines.some((l) => l.startsWith('svc-web')), lines.join('\n'));
  assert.ok(s.logLines().includes('cont-init: warning: some scripts exited nonzero'), s.logLines().join('\n'));
});

test('S6_STAGE2_HOOK runs first and may write the sources (S6_RUNTIME_BUNDLEDIR); S6_CMD_ARG0; S6_KEEP_ENV=1; --s6-overlay given explicitly', { timeout: 60000 }, async (t) => {
  // the image's s6-rc.d has no `user`: the hook writes user-bundles into /run/bundles (s6-overlay 3.2.3.2)
  const tree = image({
    'etc/hook!': '#!/bin/sh\nmkdir -p /run/bundles/user/contents.d\necho bundle > /run/bundles/user/type\ntouch /run/bundles/user/contents.d/svc-web\necho "hook MYVAR=$MYVAR" >> /run/order\n',
    'etc/arg0!': '#!/bin/sh\necho "arg0 got $*" >> /run/order\nexit 9\n',
  });
  for (const k of Object.keys(tree)) if (k.startsWith(`${rc}/user/`)) delete tree[k];
  const b = await boot(t, {
    tree,
    env: { S6_STAGE2_HOOK: '/etc/hook', S6_RUNTIME_BUNDLEDIR: '/run/bundles', S6_CMD_ARG0: '/etc/arg0 first', S6_KEEP_ENV: '1' },
    args: ['--s6-overlay'],
    cmd: ['second', 'third'],
  });
  const r = await b.exited(30000);
  assert.equal(r.code, 9, b.stderr());
  const lines = order(b.rundir);
  assert.equal(lines[0], 'hook MYVAR=from-docker-run', lines.join('\n'));
  assert.ok(lines.some((l) => l.startsWith('svc-web')), 'the hook\'s bundle brought svc-web up');
  assert.ok(lines.includes('cont-init-10 MYVAR=from-docker-run'), 'S6_KEEP_ENV=1: the whole environment');
  assert.equal(lines.filter((l) => l.startsWith('arg0')).join(), 'arg0 got first second third');
});

test('docker stop: CMD\'s code survives TERM (143), services.d and s6-rc longruns go down before cont-finish.d, which S6_KILL_FINISH_MAXTIME cuts', { timeout: 60000 }, async (t) => {
  const b = await boot(t, {
    tree: image({
      'etc/services.d/legacy/finish!': '#!/bin/sh\necho legacy-finish >> /run/order\n',
      'etc/cont-finish.d/50-hangs!': '#!/bin/sh\necho cont-finish-50 >> /run/order\nexec sleep 100000\n',
    }),
    env: { S6_KILL_FINISH_MAXTIME: '300' },
    cmd: ['/bin/sh', '-c', 'echo cmd >> /run/order; exec sleep 100000'],
  });
  await waitFor(() => order(b.rundir).includes('cmd') && order(b.rundir).some((l) => l.startsWith('legacy in')), 20000, 'CMD and the legacy service');
  b.signal('SIGTERM');
  const r = await b.exited(20000);
  assert.equal(r.code, 143, b.stderr());
  const lines = order(b.rundir);
  const i = (l: string): number => lines.indexOf(l);
  assert.ok(i('legacy-finish') >= 0 && i('legacy-finish') < i('cont-finish-50'), lines.join('\n'));
  assert.deepEqual(lines.slice(-2), ['cont-finish-50', 'cont-finish-99']);
  assert.ok(b.logLines().some((l) => /cont-finish: warning: \/etc\/cont-finish.d\/50-hangs killed after 300 ms/.test(l)), b.logLines().join('\n'));
});

test('as a non-root uid with no /run ownership gate; S6_CMD_WAIT_FOR_SERVICES=1 holds CMD until a services.d longrun with notification-fd is ready', { timeout: 60000 }, async (t) => {
  const b = await boot(t, {
    uid: 4321,
    tree: image({
      'etc/services.d/legacy/notification-fd': '3\n',
      'etc/services.d/legacy/run!': '#!/bin/sh\nsleep 0.3\necho "legacy ready as $(id -u)" >> /run/order\necho >&3\nexec sleep 100000\n',
    }),
    env: { S6_CMD_WAIT_FOR_SERVICES: '1', S6_CMD_WAIT_FOR_SERVICES_MAXTIME: '20000' },
    cmd: ['/bin/sh', '-c', 'echo "cmd as $(id -u)" >> /run/order; exit 6'],
  });
  const r = await b.exited(30000);
  assert.equal(r.code, 6, b.stderr());
  const lines = order(b.rundir);
  const ready = lines.indexOf('legacy ready as 4321');
  assert.ok(ready >= 0 && ready < lines.indexOf('cmd as 4321'), lines.join('\n') + b.logLines().join('\n'));
  assert.ok(b.logLines().includes('services-up: info: copying legacy longrun legacy'), b.logLines().join('\n'));
});

test('with vigil\'s s6-overlay commands: with-contenv in a cont-init script, a finish script writes the exitcode file and runs /run/s6/basedir/bin/halt', { timeout: 60000 }, async (t) => {
  const b = await boot(t, {
    tree: image({
      'etc/cont-init.d/30-env!': '#!/bin/sh\nwith-contenv sh -c \'echo "with-contenv MYVAR=$MYVAR" >> /run/order\'\n',
      [`${rc}/svc-app/type`]: 'longrun\n',
      [`${rc}/svc-app/run!`]: '#!/bin/sh\necho svc-app >> /run/order\nexit 3\n',
      [`${rc}/svc-app/finish!`]: '#!/bin/sh\necho "$1" > /run/s6-linux-init-container-results/exitcode\nexec /run/s6/basedir/bin/halt\n',
      [`${rc}/svc-app/dependencies.d/base`]: '',
      [`${rc}/user/contents.d/svc-app`]: '',
    }),
  });
  const r = await b.exited(30000);
  assert.equal(r.code, 3, b.stderr());
  assert.ok(order(b.rundir).includes('with-contenv MYVAR=from-docker-run'), order(b.rundir).join('\n'));
});

test('S6_LOGGING: 0 no catch-all log, every line on the container\'s stdout; 1 the log (TAI64N) and stdout; 2 the log only, S6_LOGGING_SCRIPT\'s T stamping it ISO 8601', { timeout: 90000 }, async (t) => {
  const cmd = ['/bin/sh', '-c', 'exit 0'];
  const line = 'cont-init: info: running /etc/cont-init.d/10-first';
  const current = (b: { rundir: string }): string => fs.readFileSync(path.join(b.rundir, 'uncaught-logs', 'current'), 'utf8');
  const b0 = await boot(t, { tree: image(), cmd, env: { S6_LOGGING: '0' } });
  assert.equal((await b0.exited(30000)).code, 0, b0.stderr());
  assert.ok(b0.stdout().split('\n').includes(line), `stdout:\n${b0.stdout()}`);
  assert.ok(!exists(path.join(b0.rundir, 'uncaught-logs')), 'S6_LOGGING=0 wrote a catch-all log');
  const b1 = await boot(t, { tree: image(), cmd, env: { S6_LOGGING: '1' } });
  assert.equal((await b1.exited(30000)).code, 0, b1.stderr());
  assert.ok(b1.stdout().split('\n').includes(line), `stdout:\n${b1.stdout()}`);
  assert.match(current(b1), new RegExp(`^@[0-9a-f]{24} ${line}$`, 'm'));
  const b2 = await boot(t, { tree: image(), cmd, env: { S6_LOGGING: '2', S6_LOGGING_SCRIPT: 'n20 s1000000 T' } });
  assert.equal((await b2.exited(30000)).code, 0, b2.stderr());
  assert.ok(!b2.stdout().includes(line), `S6_LOGGING=2 copied to stdout:\n${b2.stdout()}`);
  assert.match(current(b2), new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{9}  ${line}$`, 'm'));
});

test('S6_VERBOSITY=0: the legacy directories\' info lines are not said; S6_RUNTIME_PROFILE reads /etc/cont-profile.d/PROFILE instead of /etc', { timeout: 60000 }, async (t) => {
  const p = 'etc/cont-profile.d/dev';
  const b = await boot(t, {
    tree: image({
      [`${p}/cont-init.d/10-dev!`]: note('profile-cont-init'),
      [`${p}/s6-overlay/s6-rc.d/init-dev/type`]: 'oneshot\n',
      [`${p}/s6-overlay/s6-rc.d/init-dev/up`]: '/etc/cont-profile.d/dev/s6-overlay/s6-rc.d/init-dev/run\n',
      [`${p}/s6-overlay/s6-rc.d/init-dev/run!`]: note('init-dev'),
      [`${p}/s6-overlay/s6-rc.d/init-dev/dependencies.d/base`]: '',
      [`${p}/s6-overlay/s6-rc.d/user/contents.d/init-dev`]: '',
    }),
    env: { S6_VERBOSITY: '0', S6_RUNTIME_PROFILE: 'dev' },
    cmd: ['/bin/sh', '-c', 'echo cmd >> /run/order'],
  });
  assert.equal((await b.exited(30000)).code, 0, b.stderr());
  const lines = order(b.rundir);
  assert.deepEqual(lines, ['profile-cont-init', 'init-dev', 'cmd'], 'the profile\'s cont-init.d and s6-rc.d, not /etc\'s');
  assert.deepEqual(b.logLines().filter((l) => / info: /.test(l)), [], b.logLines().join('\n'));
});

test('S6_FIX_ATTRS_HIDDEN: fix-attrs.d\'s recursion skips dot entries, unless it is set', { timeout: 60000 }, async (t) => {
  const tree = image({ 'etc/fix-attrs.d/01-data': '# data owned by the app\n/run/data true 0:0 0600 0711\n' });
  const prepare = (rundir: string): void => {
    fs.mkdirSync(path.join(rundir, 'data', 'sub'), { recursive: true, mode: 0o755 });
    for (const f of ['a', '.hidden', 'sub/b']) fs.writeFileSync(path.join(rundir, 'data', f), f, { mode: 0o644 });
  };
  const mode = (rundir: string, f: string): string => (fs.statSync(path.join(rundir, 'data', f)).mode & 0o777).toString(8);
  const b = await boot(t, { tree, prepare, cmd: ['true'] });
  assert.equal((await b.exited(30000)).code, 0, b.stderr());
  assert.deepEqual(['a', 'sub', 'sub/b', '.hidden'].map((f) => mode(b.rundir, f)), ['600', '711', '600', '644'], b.logLines().join('\n'));
  assert.ok(b.logLines().includes('fix-attrs: warning: fix-attrs is deprecated, please fix volume permissions in your container manager instead'));
  const h = await boot(t, { tree, prepare, cmd: ['true'], env: { S6_FIX_ATTRS_HIDDEN: '1' } });
  assert.equal((await h.exited(30000)).code, 0, h.stderr());
  assert.deepEqual(['a', 'sub/b', '.hidden'].map((f) => mode(h.rundir, f)), ['600', '600', '600']);
});

test('S6_SERVICES_GRACETIME and S6_KILL_GRACETIME: a services.d longrun that ignores TERM is named after the first, KILLed after the second', { timeout: 60000 }, async (t) => {
  const b = await boot(t, {
    tree: image({ 'etc/services.d/legacy/run!': '#!/bin/sh\ntrap "" TERM\necho "legacy in $(pwd)" >> /run/order\nexec sleep 100000\n' }),
    env: { S6_SERVICES_GRACETIME: '200', S6_KILL_GRACETIME: '400' },
    cmd: ['/bin/sh', '-c', 'echo cmd >> /run/order; exec sleep 100000'],
  });
  // the legacy service's line comes after its trap: from then on it ignores TERM
  await waitFor(() => order(b.rundir).includes('cmd') && order(b.rundir).some((l) => l.startsWith('legacy in')), 20000, 'CMD and the legacy service');
  const t0 = Date.now();
  b.signal('SIGTERM');
  const r = await b.exited(20000);
  const ms = r.at - t0;
  assert.equal(r.code, 143, b.stderr());
  assert.ok(b.logLines().some((l) => /^services-down: warning: not down after S6_SERVICES_GRACETIME=200 ms: legacy/.test(l)), b.logLines().join('\n'));
  assert.equal(order(b.rundir).at(-1), 'cont-finish-99');
  // both limits were waited out (200 + 400 ms), and neither was the 3 s default
  t.diagnostic(`TERM → gone in ${ms} ms`);
  assert.ok(ms >= 600 && ms < 5500, `TERM → gone in ${ms} ms (the defaults would take 3000 + 3000)`);
});

test('S6_WAIT_FOR_CLOSING_FD=3: nothing runs until the container manager closes fd 3', { timeout: 60000 }, async (t) => {
  const b = await boot(t, { tree: image(), fd3: true, env: { S6_WAIT_FOR_CLOSING_FD: '3' }, cmd: ['/bin/sh', '-c', 'echo cmd >> /run/order'] });
  // the environment is dumped before the wait: from then on, nothing may run while fd 3 is open
  await waitFor(() => exists(path.join(b.rundir, 's6', 'container_environment', 'MYVAR')), 20000, 'the environment dump');
  await new Promise((r) => setTimeout(r, 300)); // a window in which nothing must happen (absence has no event)
  assert.deepEqual(order(b.rundir), [], 'something ran while fd 3 was open');
  (b.child.stdio[3] as import('node:net').Socket).destroy();
  assert.equal((await b.exited(30000)).code, 0, b.stderr());
  assert.deepEqual(order(b.rundir).slice(0, 2), ['cont-init-10 MYVAR=', 'cont-init-20']);
  assert.ok(order(b.rundir).includes('cmd'));
});

test('a read-only /run (S6_READ_ONLY_ROOT=1): init mounts a tmpfs there and the image runs', { timeout: 60000 }, async (t) => {
  const out = tmpdir('vigil-s6o-ro-');
  t.after(() => fs.rmSync(out, { recursive: true, force: true }));
  const b = await boot(t, {
    tree: image(),
    inner: `${IMAGE_ROOT}\nmount -o remount,bind,ro /run`,
    env: { S6_READ_ONLY_ROOT: '1' },
    cmd: ['/bin/sh', '-c', `cp /run/order ${out}/order && stat -f -c %T /run > ${out}/fstype; exit 4`],
  });
  assert.equal((await b.exited(30000)).code, 4, b.stderr());
  assert.equal(fs.readFileSync(path.join(out, 'fstype'), 'utf8').trim(), 'tmpfs');
  assert.ok(fs.readFileSync(path.join(out, 'order'), 'utf8').includes('cont-init-20'));
  assert.ok(!exists(path.join(b.rundir, 's6')), 'the read-only /run was written');
});

test('S6_SERVICES_READYTIME: with S6_CMD_WAIT_FOR_SERVICES, CMD waits at least that long after the services.d longruns are started', { timeout: 60000 }, async (t) => {
  const stamp = (what: string): string => `#!/bin/sh\necho "${what} $(date +%s%3N)" >> /run/order\n`;
  const b = await boot(t, {
    tree: image({ 'etc/cont-init.d/20-second!': stamp('cont-init-20') }),
    env: { S6_CMD_WAIT_FOR_SERVICES: '1', S6_SERVICES_READYTIME: '800' },
    cmd: ['/bin/sh', '-c', 'echo "cmd $(date +%s%3N)" >> /run/order'],
  });
  assert.equal((await b.exited(30000)).code, 0, b.stderr());
  const when = (w: string): number => Number(order(b.rundir).find((l) => l.startsWith(`${w} `))!.split(' ')[1]);
  const gap = when('cmd') - when('cont-init-20');
  assert.ok(gap >= 800, `CMD ${gap} ms after the last cont-init script`);
});

test('S6_SYNC_DISKS=1: init calls sync(2) before the container exits; by default it does not (strace)', { timeout: 60000 }, async (t) => {
  const out = tmpdir('vigil-s6o-sync-');
  t.after(() => fs.rmSync(out, { recursive: true, force: true }));
  const traced = async (name: string, env: Record<string, string>): Promise<string> => {
    // strace runs init (and everything under it), so init is not PID 1 here: its sync is the same code
    const b = await boot(t, { tree: image(), env, cmd: ['true'], inner: `${IMAGE_ROOT}\nexec strace -qq -f -e trace=sync -o ${out}/${name} "$@"` });
    assert.equal((await b.exited(30000)).code, 0, b.stderr());
    return fs.readFileSync(path.join(out, name), 'utf8');
  };
  assert.match(await traced('on', { S6_SYNC_DISKS: '1' }), /sync\(\)\s+= 0/);
  assert.doesNotMatch(await traced('off', {}), /sync\(\)/);
});

test('a fault re-executes init: the same longruns (s6-rc and services.d), no oneshot or cont-init.d run twice, the environment it started with (S6_KEEP_ENV=0), vigil rc answers, CMD\'s code', { timeout: 90000 }, async (t) => {
  const [faults, d] = faultDirs(t);
  const b = await boot(t, {
    tree: image({
      [`${rc}/env-probe/type`]: 'oneshot\n',
      [`${rc}/env-probe/up`]: '/etc/s6-overlay/s6-rc.d/env-probe/run\n',
      [`${rc}/env-probe/run!`]: '#!/bin/sh\necho "probe MYVAR=$MYVAR" >> /run/order\n',
    }),
    nodeArgs: ['-r', FAULT_PRELOAD],
    env: { VIGIL_TEST_FAULT_DIR: faults, S6_KILL_GRACETIME: '400' },
    cmd: holdingCmd(d),
  });
  // the scan directory's links are absolute inside the namespace (/run/...): their targets, seen from here
  const dirs = { web: path.join(b.rundir, 's6-rc', 'servicedirs', 'svc-web'), legacy: path.join(b.rundir, 's6', 'legacy-services', 'legacy') };
  const caught = (): string[] => logdirLines(path.join(b.rundir, 'uncaught-logs'));
  await waitFor(() => exists(path.join(d, 'cmdpid')) && Object.values(dirs).every((p) => (statusOf(p)?.pid ?? 0) > 0), 20000, 'CMD, svc-web and legacy up');
  const before = Object.values(dirs).map((p) => statusOf(p)!.pid);
  injectFault(faults, 'throw');
  await waitFor(() => caught().some((l) => /re-executed after an internal fault: .*the service manager carried over/.test(l)), 15000, `re-exec after the fault\n${b.stderr()}`);
  assert.deepEqual(Object.values(dirs).map((p) => statusOf(p)!.pid), before, 'the longruns kept their pids');
  // the new image was exec'd with the environment the container started with (S6_* settings included) ...
  const environ = fs.readFileSync(`/proc/${b.pid1}/environ`, 'latin1').split('\0');
  assert.ok(environ.includes('MYVAR=from-docker-run') && environ.includes('S6_KILL_GRACETIME=400'), environ.join('\n'));
  // ... and the tree still has the reduced one (S6_KEEP_ENV=0)
  const ch = await tool(process.execPath, [VIGIL, 'rc', '-l', path.join(b.rundir, 's6-rc'), '-u', 'change', 'env-probe'], 20000);
  assert.equal(ch.code, 0, ch.stderr);
  assert.ok(order(b.rundir).includes('probe MYVAR='), order(b.rundir).join('\n'));
  releaseCmd(d, 42);
  const r = await b.exited(30000);
  assert.equal(r.code, 42, b.stderr());
  const lines = order(b.rundir);
  for (const once of ['cont-init-10 MYVAR=', 'cont-init-20', 'init-setup', 'init-late']) assert.equal(lines.filter((l) => l === once).length, 1, `${once} once in\n${lines.join('\n')}`);
  assert.equal(lines.filter((l) => l.startsWith('svc-web in')).length, 1);
  assert.equal(lines[lines.length - 1], 'cont-finish-99');
  assert.ok(!caught().some((l) => /not re-executing|unable to re-execute|internal error/.test(l)), caught().join('\n'));
});
