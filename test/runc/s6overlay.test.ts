// An s6-overlay v3 image under runc (as under Docker/containerd/Kubernetes) with `vigil init` as its only
// change: read-only root, tmpfs /run and /tmp, runc's default spec (no CAP_SYS_ADMIN, no_new_privs), as root
// and as uid 4321. The root file system is an image's: Debian bookworm minbase (test/pkg/cache.sh) under a
// layer this file writes as an s6-overlay image has it - /command with s6's and execline's programs (Debian's,
// copied with their libraries, as s6-overlay's tarballs put theirs there) and an execline with-contenv of the
// image's own, and a tree written as image authors write theirs: oneshots whose `up` is a script's path, a
// comment-only `up`, dependencies.d on base and legacy-services, a longrun with notification-fd and
// s6-notifyoncheck, `#!/command/with-contenv sh` scripts, cont-init.d, services.d, cont-finish.d, and a
// finish script that writes the exitcode file and runs /run/s6/basedir/bin/halt. No --s6-overlay flag: init
// finds /etc/s6-overlay itself. Node and the project are bound in read-only (the image would install them).
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NODE, REPO, exitWithin, runcKill, waitFor } from './bundle';
import { debianLayer, imageBundle, runImageForeground } from '../pkg/image';
import { makeTree, tmpdir, Tree } from '../helpers/scandir';

const rc = 'etc/s6-overlay/s6-rc.d';
/** append one line to /out/order (the test's window on the container) */
const note = (what: string): string => `echo "${what}" >> /out/order\n`;

const TREE: Tree = {
  // a oneshot whose up is the path of a with-contenv script next to it (linuxserver's layout)
  [`${rc}/init-config/type`]: 'oneshot\n',
  [`${rc}/init-config/up`]: '/etc/s6-overlay/s6-rc.d/init-config/run\n',
  [`${rc}/init-config/run!`]: `#!/command/with-contenv sh\n${note('init-config MYVAR=$MYVAR uid=$(id -u)')}`,
  [`${rc}/init-config/dependencies.d/base`]: '',
  // a comment-only up: always succeeds, keeps the chain
  [`${rc}/init-noop/type`]: 'oneshot\n',
  [`${rc}/init-noop/up`]: '# nothing to do here any more; kept for the dependency chain\n',
  [`${rc}/init-noop/dependencies.d/init-config`]: '',
  // a longrun ready only when its check says so: s6-notifyoncheck polls data/check, writes to notification-fd
  [`${rc}/svc-web/type`]: 'longrun\n',
  [`${rc}/svc-web/notification-fd`]: '3\n',
  [`${rc}/svc-web/run!`]: `#!/bin/sh\n${note('svc-web in $(pwd)')}exec s6-notifyoncheck -w 50 -n 0 sh -c 'sleep 0.3; touch /tmp/web-listening; exec sleep 100000'\n`,
  [`${rc}/svc-web/data/check!`]: '#!/bin/sh\ntest -e /tmp/web-listening\n',
  [`${rc}/svc-web/dependencies.d/init-noop`]: '',
  // depends on svc-web: starts only once it is ready
  [`${rc}/init-after-web/type`]: 'oneshot\n',
  [`${rc}/init-after-web/up`]: '/etc/s6-overlay/s6-rc.d/init-after-web/run\n',
  [`${rc}/init-after-web/run!`]: `#!/bin/sh\nif test -e /tmp/web-listening; then ${note('after-web: web ready')}else ${note('after-web: web NOT ready')}fi\n`,
  [`${rc}/init-after-web/dependencies.d/svc-web`]: '',
  // user2, after legacy-services: a late oneshot, and an app whose finish writes the exitcode file and halts
  [`${rc}/init-late/type`]: 'oneshot\n',
  [`${rc}/init-late/up`]: '/etc/s6-overlay/s6-rc.d/init-late/run\n',
  [`${rc}/init-late/run!`]: `#!/bin/sh\n${note('init-late')}`,
  [`${rc}/init-late/dependencies.d/legacy-services`]: '',
  [`${rc}/svc-app/type`]: 'longrun\n',
  [`${rc}/svc-app/run!`]: `#!/command/with-contenv sh\n${note('svc-app')}if test -n "$APP_EXIT"; then exit "$APP_EXIT"; fi\nexec sleep 100000\n`,
  // the usual finish script (hassio's, home-assistant's): the first code wins, 128+SIG when killed
  [`${rc}/svc-app/finish!`]: '#!/bin/sh\nf=/run/s6-linux-init-container-results/exitcode\nif test "$(cat $f)" = 0; then\n'
    + '  if test "$1" -eq 256; then e=$((128 + $2)); else e=$1; fi\n  echo "$e" > $f\nfi\nexec /run/s6/basedir/bin/halt\n',
  [`${rc}/svc-app/dependencies.d/legacy-services`]: '',
  // user and user2 as images made for s6-overlay <= 3.2.3.1 ship them: contents.d only
  [`${rc}/user/contents.d/init-config`]: '',
  [`${rc}/user/contents.d/init-noop`]: '',
  [`${rc}/user/contents.d/svc-web`]: '',
  [`${rc}/user/contents.d/init-after-web`]: '',
  [`${rc}/user2/contents.d/init-late`]: '',
  [`${rc}/user2/contents.d/svc-app`]: '',
  'etc/cont-init.d/10-env!': `#!/command/with-contenv sh\n${note('cont-init-10 MYVAR=$MYVAR printcontenv=$(printcontenv MYVAR)')}`,
  'etc/cont-init.d/20-plain!': `#!/bin/sh\n${note('cont-init-20 MYVAR=$MYVAR')}`,
  // a services.d longrun with readiness (S6_CMD_WAIT_FOR_SERVICES=1 makes legacy-services wait for it)
  'etc/services.d/legacy/run!': `#!/bin/sh\n${note('legacy in $(pwd)')}echo >&3\nexec 3>&-\nexec sleep 100000\n`,
  'etc/services.d/legacy/notification-fd': '3\n',
  'etc/cont-finish.d/99-bye!': `#!/bin/sh\n${note('cont-finish-99')}`,
  // s6-overlay's with-contenv is an execline script (facts B4): emptyenv -p, s6-envdir -Lf, exec
  'command/with-contenv!': '#!/command/execlineb -S0\nimportas -D 0 keep S6_KEEP_ENV\nifelse { eltest 0${keep} -ne 0 } { $@ }\nemptyenv -p\ns6-envdir -Lf /run/s6/container_environment\nexec $@\n',
  // mount points of the binds (a read-only overlay has no room for new ones)
  'vigil/': '',
  'out/': '',
  'usr/local/bin/node': '',
  'srv/app/': '',
};

/** Debian's s6 and execline programs under /usr and /command, and the libraries the minbase layer lacks. */
function addSkarnet(layer: string, debian: string): void {
  const inUsr = (p: string): string => p.replace(/^\/(bin|lib|lib64|sbin)\//, '/usr/$1/');
  const copy = (p: string): void => {
    const dst = path.join(layer, inUsr(p));
    if (fs.existsSync(dst)) return;
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    fs.copyFileSync(fs.realpathSync(p), dst);
    fs.chmodSync(dst, fs.statSync(p).mode & 0o7777);
  };
  // execline's programs first: Debian's /usr/bin/execlineb is a wrapper script around its own
  const progs = execFileSync('dpkg', ['-L', 's6', 'execline'], { encoding: 'utf8' }).split('\n')
    .filter((p) => /^\/usr\/(bin|lib\/execline\/bin)\/[^/]+$/.test(p) && fs.statSync(p).isFile())
    .sort((a, b) => Number(!a.startsWith('/usr/lib/')) - Number(!b.startsWith('/usr/lib/')));
  for (const p of progs) {
    copy(p);
    fs.mkdirSync(path.join(layer, 'command'), { recursive: true });
    const link = path.join(layer, 'command', path.basename(p));
    if (!fs.existsSync(link)) fs.symlinkSync(inUsr(p), link);
  }
  for (const prog of ['/usr/lib/execline/bin/execlineb', '/usr/bin/s6-svscan', '/usr/bin/s6-notifyoncheck']) {
    for (const m of execFileSync('ldd', [prog], { encoding: 'utf8' }).matchAll(/=> (\/\S+)/g)) {
      if (!fs.existsSync(path.join(debian, inUsr(m[1])))) copy(m[1]);
    }
  }
}

let layer: string;
let debian: string;

before(() => {
  debian = debianLayer();
  layer = makeTree(TREE);
  fs.chmodSync(layer, 0o755);
  addSkarnet(layer, debian);
  execFileSync('chmod', ['-R', 'a+rX', layer]);
});

after(() => {
  if (layer) fs.rmSync(layer, { recursive: true, force: true });
});

interface Run {
  out: string;
  order(): string[];
  exited: Promise<number>;
  kill(sig: string): void;
  why(what: string): string;
}

/** Boot the image: ENTRYPOINT node /vigil/bin/vigil init --, CMD in WORKDIR /srv/app, read-only root. */
function boot(t: import('node:test').TestContext, o: { uid: number; cmd: string[]; env?: string[] }): Run {
  const out = tmpdir('vigil-s6o-out-');
  fs.chmodSync(out, 0o777);
  const merged = tmpdir('vigil-s6o-root-');
  const b = imageBundle({
    rootfs: merged, readonly: true, uid: o.uid, cwd: '/srv/app', tmpfs: ['/run', '/tmp'],
    args: ['/usr/local/bin/node', '/vigil/bin/vigil', 'init', '--', ...o.cmd],
    env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'MYVAR=from-docker-run', 'S6_CMD_WAIT_FOR_SERVICES=1', ...(o.env ?? [])],
    binds: { [REPO]: '/vigil', [NODE]: '/usr/local/bin/node' },
    rwBinds: { [out]: '/out' },
  });
  const h = runImageForeground(b, [layer, debian], merged);
  t.after(() => {
    b.cleanup();
    fs.rmSync(out, { recursive: true, force: true });
    fs.rmSync(merged, { recursive: true, force: true });
  });
  const order = (): string[] => {
    try {
      return fs.readFileSync(path.join(out, 'order'), 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  };
  return {
    out,
    order,
    exited: exitWithin(b, h, 30000),
    kill: (sig) => runcKill(b, sig),
    why: (what) => `${what}\n--- /out/order ---\n${order().join('\n')}\n--- stdout ---\n${h.stdout()}\n--- stderr ---\n${h.stderr()}`,
  };
}

/** index of the first line starting with `l`, asserted present */
function at(r: Run, l: string): number {
  const i = r.order().findIndex((x) => x.startsWith(l));
  assert.ok(i >= 0, r.why(`no "${l}" line`));
  return i;
}

for (const uid of [0, 4321]) {
  const who = uid === 0 ? 'root' : `uid ${uid}`;

  test(`runc, read-only root, ${who}: cont-init.d, the s6-rc.d tree (readiness by s6-notifyoncheck), services.d, user2, CMD in WORKDIR with its code, cont-finish.d`, { timeout: 120000 }, async (t) => {
    const r = boot(t, { uid, cmd: ['/bin/sh', '-c', 'echo "cmd in $(pwd) uid=$(id -u) MYVAR=$MYVAR link=$(readlink /run/service/svc-web)" >> /out/order; exit 7'] });
    const code = await r.exited;
    assert.equal(code, 7, r.why(`exit code ${code}`));
    const lines = r.order();
    // cont-init.d in order: the image's execline with-contenv gives the container's environment; plain sh has PATH only
    assert.deepEqual(lines.slice(0, 2), ['cont-init-10 MYVAR=from-docker-run printcontenv=from-docker-run', 'cont-init-20 MYVAR='], r.why('cont-init.d'));
    assert.equal(lines[at(r, 'init-config')], `init-config MYVAR=from-docker-run uid=${uid}`);
    assert.ok(at(r, 'init-config') > at(r, 'cont-init-20'), r.why('dependencies.d/base: after cont-init.d'));
    assert.equal(lines[at(r, 'svc-web')], 'svc-web in /run/s6-rc/servicedirs/svc-web');
    assert.ok(at(r, 'svc-web') > at(r, 'init-config'));
    assert.equal(lines[at(r, 'after-web')], 'after-web: web ready', r.why('the dependent of a notification-fd longrun ran before it was ready'));
    assert.equal(lines[at(r, 'legacy')], 'legacy in /run/s6/legacy-services/legacy');
    assert.ok(at(r, 'init-late') > at(r, 'after-web') && at(r, 'init-late') > at(r, 'legacy'), r.why('user2 after user and services.d'));
    assert.equal(lines[at(r, 'cmd')], `cmd in /srv/app uid=${uid} MYVAR= link=/run/s6-rc/servicedirs/svc-web`, r.why('CMD in WORKDIR, PATH only'));
    assert.ok(at(r, 'cmd') > at(r, 'init-late'));
    assert.equal(lines[lines.length - 1], 'cont-finish-99', r.why('cont-finish.d last'));
  });

  test(`runc, read-only root, ${who}: no CMD; a longrun's finish writes its code into the exitcode file and runs halt: the container exits with it`, { timeout: 120000 }, async (t) => {
    const r = boot(t, { uid, cmd: [], env: ['APP_EXIT=3'] });
    const code = await r.exited;
    assert.equal(code, 3, r.why(`exit code ${code}`));
    assert.ok(at(r, 'svc-app') > at(r, 'legacy'), r.why('user2 after services.d'));
    assert.equal(r.order().at(-1), 'cont-finish-99', r.why('cont-finish.d at the halt'));
  });

  test(`runc, read-only root, ${who}: docker stop (TERM) while CMD runs: 143, everything down, cont-finish.d ran`, { timeout: 120000 }, async (t) => {
    const r = boot(t, { uid, cmd: ['/bin/sh', '-c', 'echo cmd >> /out/order; exec sleep 100000'] });
    await waitFor(() => r.order().includes('cmd'), 30000, () => r.why('CMD to start'));
    const t0 = Date.now();
    r.kill('TERM');
    const code = await r.exited;
    t.diagnostic(`TERM → container gone in ${Date.now() - t0} ms`);
    assert.equal(code, 143, r.why(`exit code ${code}`));
    assert.equal(r.order().at(-1), 'cont-finish-99', r.why('cont-finish.d at the stop'));
  });
}
