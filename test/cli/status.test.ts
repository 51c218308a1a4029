/**
 * vigil status on a known tree run by a real s6-svscan: one row per service (dot names and plain files
 * skipped, NAME/log rows for loggers), the state/pid/ready/restarts/last-exit columns, aligned plain text
 * when piped, colour only on a terminal without NO_COLOR, --json with its documented keys, exit codes.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { startS6Tree } from '../helpers/cli-tree';
import { SLEEP_RUN, tmpdir } from '../helpers/scandir';
import { tool, vigil, VIGIL } from '../helpers/svscan';
import { waitFor, waitStatus } from '../helpers/wait';

const KEYS = ['name', 'dir', 'supervised', 'state', 'pid', 'wantUp', 'normallyUp', 'notifies', 'ready', 'stateSeconds', 'restarts', 'lastExit', 'error', 'adopted'];

interface Row {
  name: string;
  state: string;
  pid: number | null;
  ready: boolean | null;
  restarts: number;
  lastExit: { exitcode: number | null; signal: string | null; signum: number | null } | null;
  supervised: boolean;
  wantUp: boolean | null;
  normallyUp: boolean;
  notifies: boolean;
  stateSeconds: number | null;
}

/** run under a pseudo-terminal (util-linux script) so stdout is a TTY */
function onTty(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const cmd = [process.execPath, VIGIL, ...args].map((a) => `'${a}'`).join(' ');
  return new Promise((resolve, reject) => {
    execFile('script', ['-qec', cmd, '/dev/null'], { env, timeout: 20000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
}

test('status shows every service of a real s6-svscan tree', async (t) => {
  const tree = await startS6Tree({
    'web/run!': SLEEP_RUN,
    'api/run!': '#!/bin/sh\necho >&3\nexec sleep 1000000\n',
    'api/notification-fd': '3\n',
    'slow/run!': SLEEP_RUN,
    'slow/notification-fd': '3\n',
    'off/run!': SLEEP_RUN,
    'off/down': '',
    'crashy/run!': '#!/bin/sh\nexit 3\n',
    'frozen/run!': SLEEP_RUN,
    'logged/run!': SLEEP_RUN,
    'logged/log/run!': '#!/bin/sh\nexec cat >/dev/null\n',
  });
  t.after(() => tree.stop());
  fs.writeFileSync(path.join(tree.root, 'README'), 'not a service\n');
  fs.mkdirSync(path.join(tree.root, '.hidden'));
  const d = tree.dir;
  assert.equal((await tool('s6-svc', ['-p', d('frozen')])).code, 0);
  await waitStatus(d('frozen'), (s) => s.paused, 5000, 'frozen paused');
  await waitStatus(d('api'), (s) => s.ready && s.pid !== 0, 5000, 'api ready');
  await waitFor(() => fs.statSync(path.join(d('crashy'), 'supervise', 'death_tally')).size >= 28, 10000, 'crashy died twice');
  assert.equal((await tool('s6-svc', ['-d', d('crashy')])).code, 0);
  await waitStatus(d('crashy'), (s) => !s.wantUp && s.pid === 0, 5000, 'crashy stopped');

  // --json: the documented keys, in order, and the right values
  const j = await vigil(['status', '--json', tree.root]);
  assert.equal(j.code, 0, j.stderr);
  const rows = JSON.parse(j.stdout) as Row[];
  for (const r of rows) assert.deepEqual(Object.keys(r), KEYS);
  const by = Object.fromEntries(rows.map((r) => [r.name, r]));
  assert.deepEqual(rows.map((r) => r.name), ['api', 'crashy', 'frozen', 'logged', 'logged/log', 'off', 'slow', 'web']);
  const webPid = Number((await tool('s6-svstat', ['-p', d('web')])).stdout.trim());
  assert.equal(by.web.state, 'up');
  assert.equal(by.web.pid, webPid);
  assert.equal(by.web.ready, null, 'no notification-fd: readiness unknown');
  assert.equal(by.api.state, 'up');
  assert.equal(by.api.ready, true);
  assert.equal(by.slow.state, 'starting');
  assert.equal(by.slow.ready, false);
  assert.equal(by.off.state, 'down');
  assert.equal(by.off.pid, null);
  assert.equal(by.off.normallyUp, false);
  assert.equal(by.off.lastExit, null, 'never ran');
  assert.equal(by.frozen.state, 'paused');
  assert.equal(by.crashy.state, 'down');
  assert.equal(by.crashy.wantUp, false);
  assert.ok(by.crashy.restarts >= 2, `crashy restarts ${by.crashy.restarts}`);
  assert.deepEqual(by.crashy.lastExit, { exitcode: 3, signal: null, signum: null });
  assert.equal(by['logged/log'].state, 'up');
  for (const r of rows) assert.equal(r.supervised, true, r.name);
  assert.equal(typeof by.web.stateSeconds, 'number');

  // plain text when piped: aligned columns, no escape codes
  const p = await vigil(['status', tree.root]);
  assert.equal(p.code, 0, p.stderr);
  assert.doesNotMatch(p.stdout, /\x1b/);
  const lines = p.stdout.trimEnd().split('\n');
  assert.match(lines[0], /^NAME +STATE +PID +UPTIME +READY +RESTARTS +LAST EXIT$/);
  assert.equal(lines.length, 1 + rows.length);
  const cols = ['STATE', 'PID', 'UPTIME', 'READY', 'RESTARTS', 'LAST EXIT'].map((h) => lines[0].indexOf(h));
  for (const l of lines.slice(1)) {
    for (const c of cols) assert.match(l.slice(c - 2, c), /^  $/, `column at ${c} aligned in ${JSON.stringify(l)}`);
  }
  const line = (name: string) => lines.find((l) => l.startsWith(name + ' ')) as string;
  assert.match(line('web'), new RegExp(`^web +up +${webPid} +[0-9]+(s|m[0-9]{2}s) +— +0 +—$`));
  assert.match(line('api'), /^api +up +[0-9]+ +\S+ +yes +/);
  assert.match(line('slow'), /^slow +starting +[0-9]+ +\S+ +no +/);
  assert.match(line('crashy'), /^crashy +down +— +\S+ +— +[0-9]+ +exit 3$/);
  assert.match(line('logged/log'), /^logged\/log +up /);

  // colour on a terminal; none with NO_COLOR
  const env = { ...process.env };
  delete env.NO_COLOR;
  const tty = await onTty(['status', tree.root], env);
  assert.match(tty, /\x1b\[32mweb /, 'green for up');
  assert.match(tty, /\x1b\[33mslow /, 'yellow for starting');
  assert.match(tty, /\x1b\[2mcrashy /, 'dim for down (wanted down)');
  const plain = await onTty(['status', tree.root], { ...env, NO_COLOR: '1' });
  assert.doesNotMatch(plain, /\x1b\[/);
  assert.match(plain, /web +up/);

  // a crash loop wanted up is red
  assert.equal((await tool('s6-svc', ['-u', d('crashy')])).code, 0);
  await waitStatus(d('crashy'), (s) => s.wantUp && s.pid === 0, 5000, 'crashy down, wanted up');
  const tty2 = await onTty(['status', tree.root], env);
  assert.match(tty2, /\x1b\[31mcrashy +down|\x1b\[32mcrashy +up/, 'red while down and wanted up');
});

test('status: not supervised, default scandir, missing scandir, usage', async (t) => {
  const root = tmpdir('vigil-cli-status-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  fs.mkdirSync(path.join(root, 'svc', 'supervise'), { recursive: true });
  fs.writeFileSync(path.join(root, 'svc', 'supervise', 'lock'), '');
  fs.writeFileSync(path.join(root, 'svc', 'run'), '#!/bin/sh\n');
  fs.mkdirSync(path.join(root, 'bare'));
  const env = { ...process.env, VIGIL_SCANDIR: root };
  const j = await new Promise<{ code: number; out: string }>((resolve) => {
    execFile(process.execPath, [VIGIL, 'status', '--json'], { env, timeout: 10000 }, (err, stdout) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout }));
  });
  assert.equal(j.code, 0);
  const rows = JSON.parse(j.out) as Row[];
  assert.deepEqual(rows.map((x) => [x.name, x.state, x.supervised]), [['bare', 'not supervised', false], ['svc', 'not supervised', false]]);
  const plain = await vigil(['status', root]);
  assert.match(plain.stdout, /^svc +not supervised +— +— +— +0 +—$/m);
  const missing = await vigil(['status', path.join(root, 'nope')]);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, `vigil status: fatal: unable to read ${path.join(root, 'nope')}: No such file or directory\n`);
  assert.equal((await vigil(['status', '-x'])).code, 100);
  assert.equal((await vigil(['status', 'a', 'b'])).code, 100);
  const help = await vigil(['status', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: vigil status /);
});
