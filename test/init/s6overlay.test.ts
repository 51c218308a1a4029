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
import { waitFor } from '../helpers/wait';

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
  return bootInit(t, { plain: true, inner: IMAGE_ROOT, ...o, env: { MYVAR: 'from-docker-run', ...(o.env ?? {}) } });
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
