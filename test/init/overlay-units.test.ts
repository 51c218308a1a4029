// s6-overlay mode's pure parts, in milliseconds: the S6_* settings with s6-overlay's code defaults, PATH, the
// union of source directories rc.init compiles, the image's additions to the internal sources, the settings
// file the legacy-directory scripts read, the environment dump.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  OVERLAY_SHARE, catchAllPlan, dumpEnv, etcDir, imageInternalSources, looksLikeOverlay, mergeInternal, overlayConfig, overlayPath,
  overlaySources, settingsText,
} from '../../src/init/overlay';
import { readSources } from '../../src/rc/source';
import { buildGraph, closure, resolveNames, selectedNames, selection } from '../../src/rc/graph';
import { makeTree, removeTree } from '../helpers/scandir';

test('S6_* defaults as s6-overlay\'s code has them; numbers parsed; garbage named and defaulted', () => {
  const d = overlayConfig({});
  assert.deepEqual({ ...d, warnings: undefined }, {
    keepEnv: false, logging: 0, loggingScript: null, catchallUser: null, waitClosingFd: 0, fixAttrsHidden: false, behaviour: 0, waitForServices: 0, waitMaxtime: 0, readytime: 50, servicesGracetime: 3000,
    killGracetime: null, killFinishMaxtime: 0, verbosity: 2, readOnlyRoot: false, syncDisks: false, cmdArg0: [],
    stage2Hook: [], profile: null, bundledir: null, warnings: undefined,
  });
  const c = overlayConfig({
    S6_KEEP_ENV: '1', S6_KILL_GRACETIME: '0', S6_CMD_ARG0: ' /bin/tini  -- ', S6_STAGE2_HOOK: '/hook a', S6_VERBOSITY: 'loud',
    S6_BEHAVIOUR_IF_STAGE2_FAILS: '2', S6_RUNTIME_PROFILE: 'dev',
  });
  assert.equal(c.keepEnv, true);
  assert.equal(c.killGracetime, 0, '0 is honoured');
  assert.deepEqual(c.cmdArg0, ['/bin/tini', '--']);
  assert.deepEqual(c.stage2Hook, ['/hook', 'a']);
  assert.equal(c.verbosity, 2);
  assert.deepEqual(c.warnings, ['S6_VERBOSITY="loud" is not a number: using 2']);
  assert.equal(etcDir(c, '/r'), '/r/etc/cont-profile.d/dev');
});

test('S6_LOGGING and S6_LOGGING_SCRIPT: log, copy and stamps of the catch-all logger as s6-overlay\'s stage0 chooses them', () => {
  const plan = (env: NodeJS.ProcessEnv) => catchAllPlan(overlayConfig(env));
  // 0 (default): s6-linux-init-maker -B, no catch-all log: the lines go to the container's stdout only
  assert.deepEqual(plan({}), { logdir: false, copy: true, stamps: ['t'] });
  assert.deepEqual(plan({ S6_LOGGING: '1' }), { logdir: true, copy: true, stamps: ['t'] });
  assert.deepEqual(plan({ S6_LOGGING: '2' }), { logdir: true, copy: false, stamps: ['t'] });
  // the t and T of the script choose TAI64N and ISO 8601 (s6-linux-init-maker -t 1, 2, 3; none: -t 0)
  assert.deepEqual(plan({ S6_LOGGING: '1', S6_LOGGING_SCRIPT: 'n20 s1000000 T' }).stamps, ['T']);
  assert.deepEqual(plan({ S6_LOGGING_SCRIPT: 'T t n3' }).stamps, ['t', 'T']);
  assert.deepEqual(plan({ S6_LOGGING_SCRIPT: 'n20 s1000000' }).stamps, []);
  assert.deepEqual(plan({ S6_LOGGING_SCRIPT: '' }).stamps, []);
  const c = overlayConfig({ S6_WAIT_FOR_CLOSING_FD: '4', S6_FIX_ATTRS_HIDDEN: '1', S6_CATCHALL_USER: 'nobody' });
  assert.equal(c.waitClosingFd, 4);
  assert.equal(c.fixAttrsHidden, true);
  assert.equal(c.catchallUser, 'nobody');
});

test('PATH: /command /usr/bin /bin put in front only when missing, vigil\'s commands right after /command', () => {
  assert.equal(overlayPath('/usr/local/bin:/usr/bin:/bin', null), '/command:/usr/local/bin:/usr/bin:/bin');
  assert.equal(overlayPath(undefined, null), '/command:/usr/bin:/bin');
  assert.equal(overlayPath('/usr/local/bin:/command:/usr/bin:/bin', '/v/cmd'), '/usr/local/bin:/command:/v/cmd:/usr/bin:/bin');
});

test('sources: s6-rc.d, user-bundles.d unless s6-rc.d has user, the internal sets, vigil\'s user/user2 when missing; untyped user is a bundle', (t) => {
  const root = makeTree({
    'etc/s6-overlay/s6-rc.d/app/type': 'longrun\n',
    'etc/s6-overlay/s6-rc.d/app/run!': '#!/bin/sh\n',
    'etc/s6-overlay/s6-rc.d/app/dependencies.d/base': '',
    'etc/s6-overlay/s6-rc.d/user/contents.d/app': '',
    'etc/s6-overlay/user-bundles.d/user/type': 'bundle\n',
    'etc/s6-overlay/user-bundles.d/user/contents.d/.empty': '',
  });
  t.after(() => removeTree(root));
  const cfg = overlayConfig({});
  const s = overlaySources(cfg, root);
  assert.deepEqual(s.sources, [`${root}/etc/s6-overlay/s6-rc.d`, `${OVERLAY_SHARE}/sources`, `${OVERLAY_SHARE}/user2`]);
  const set = readSources(s.sources, undefined, { untypedBundles: s.untypedBundles });
  assert.deepEqual(set.problems, []);
  const g = buildGraph(set.defs);
  assert.deepEqual(g.problems, []);
  const r = resolveNames(g.graph!, ['top']);
  assert.ok('atoms' in r);
  const sel = selection(g.graph!, r.atoms);
  closure(g.graph!, sel, true);
  const up = selectedNames(g.graph!, sel).sort();
  assert.deepEqual(up, ['app', 'fix-attrs', 'legacy-cont-init', 'legacy-services']);
  // without s6-rc.d/user: user-bundles.d (or S6_RUNTIME_BUNDLEDIR) is read
  fs.rmSync(path.join(root, 'etc/s6-overlay/s6-rc.d/user'), { recursive: true });
  assert.deepEqual(overlaySources(cfg, root).sources.slice(0, 2), [`${root}/etc/s6-overlay/s6-rc.d`, `${root}/etc/s6-overlay/user-bundles.d`]);
  fs.mkdirSync(path.join(root, 'b'));
  assert.equal(overlaySources(overlayConfig({ S6_RUNTIME_BUNDLEDIR: `${root}/b` }), root).sources[1], `${root}/b`);
  // an untyped definition that is not user/user2 is still s6-rc-compile's error (exit 111)
  const other = readSources([`${root}/etc/s6-overlay/s6-rc.d`], undefined, { untypedBundles: ['user'] });
  assert.deepEqual(other.problems, []);
  assert.ok(looksLikeOverlay(root));
  assert.ok(!looksLikeOverlay(path.join(root, 'etc')));
});

test('the image\'s additions to s6-overlay\'s internal sources are merged into vigil\'s; its own services there kept', (t) => {
  const root = makeTree({
    'package/admin/s6-overlay-3.2.1.0/etc/s6-rc/sources/base/contents.d/banner': '',
    'package/admin/s6-overlay-3.2.1.0/etc/s6-rc/sources/base/contents.d/fix-attrs': '',
    'package/admin/s6-overlay-3.2.1.0/etc/s6-rc/sources/legacy-cont-init/dependencies.d/banner': '',
    'package/admin/s6-overlay-3.2.1.0/etc/s6-rc/sources/banner/type': 'oneshot\n',
    'package/admin/s6-overlay-3.2.1.0/etc/s6-rc/sources/banner/up': '/usr/bin/true\n',
  });
  t.after(() => removeTree(root));
  const img = imageInternalSources(root);
  assert.equal(img, `${root}/package/admin/s6-overlay-3.2.1.0/etc/s6-rc/sources`);
  const notes: string[] = [];
  const ours = mergeInternal(OVERLAY_SHARE, img!, path.join(root, 'run/s6/internal'), (m) => notes.push(m));
  assert.equal(notes.length, 3, notes.join('\n'));
  assert.ok(fs.existsSync(path.join(ours, 'base/contents.d/banner')));
  assert.ok(fs.existsSync(path.join(ours, 'legacy-cont-init/dependencies.d/banner')));
  assert.equal(fs.readFileSync(path.join(ours, 'legacy-cont-init/up'), 'utf8'), 'sh ../../scripts/cont-init\n', 'vigil\'s up kept');
  assert.ok(fs.existsSync(path.join(ours, '../scripts/cont-init')), 'the scripts beside, as up\'s relative path needs');
  assert.deepEqual(readSources([ours, `${OVERLAY_SHARE}/user`, `${OVERLAY_SHARE}/user2`]).problems, []);
});

test('settings file: sh reads every value back, quoting holds; the environment dump is one file per variable, no newline added', (t) => {
  const d = makeTree({});
  t.after(() => removeTree(d));
  const text = settingsText(overlayConfig({ S6_VERBOSITY: '3' }), { etc: "/e t'c", scandir: '/run/service', node: '/bin/echo', main: "it's" });
  fs.writeFileSync(path.join(d, 'settings'), text);
  const r = spawnSync('sh', ['-c', '. "$0"; echo "$s6o_etc|$s6o_verbosity|$s6o_services_gracetime"; s6o_vigil svwait -D', path.join(d, 'settings')], { encoding: 'utf8' });
  assert.equal(r.stdout, "/e t'c|3|3000\nit's svwait -D\n");
  dumpEnv(path.join(d, 'env'), { A: 'one', B: 'two\nlines', EMPTY: '' });
  assert.deepEqual(fs.readdirSync(path.join(d, 'env')).sort(), ['A', 'B', 'EMPTY']);
  assert.equal(fs.readFileSync(path.join(d, 'env', 'B'), 'utf8'), 'two\nlines');
});
