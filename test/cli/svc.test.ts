/**
 * vigil svc against real s6-supervise (under Debian's s6-svscan): every command letter's effect, observed
 * with s6's own tools (s6-svstat, s6-svdt) and /proc; the one-write rule; and s6-svc's error paths,
 * compared with s6-svc itself.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startS6Tree, both, asS6, pool } from '../helpers/cli-tree';
import { SLEEP_RUN, tmpdir } from '../helpers/scandir';
import { tool, vigil, VIGIL } from '../helpers/svscan';
import { waitFor, waitStatus, recordEvents } from '../helpers/wait';
import { native } from '../../src/sys/native';

const TRAPS = ['ALRM', 'ABRT', 'QUIT', 'HUP', 'TERM', 'INT', 'USR1', 'USR2', 'WINCH'];
// a shell that records every signal it can trap into ./got (the service dir)
const SIG_RUN = `#!/bin/sh
${TRAPS.map((s) => `trap 'echo ${s} >> got' ${s}`).join('\n')}
while :; do sleep 0.05; done
`;

async function svstat(args: string[]): Promise<string> {
  const r = await tool('s6-svstat', args);
  assert.equal(r.code, 0, `s6-svstat ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function svc(args: string[]): Promise<void> {
  const r = await vigil(['svc', ...args]);
  assert.equal(r.code, 0, `vigil svc ${args.join(' ')}: ${r.stderr}`);
  assert.equal(r.stderr, '');
}

function procState(pid: number): string {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return s.slice(s.lastIndexOf(')') + 2)[0];
}

test('every svc letter does to s6-supervise what s6-svc does', async (t) => {
  const tree = await startS6Tree({
    'sig/run!': SIG_RUN,
    'st/run!': SLEEP_RUN,
    'once/run!': '#!/bin/sh\nsleep 0.2\nexit 4\n',
    'once/down': '',
  });
  t.after(() => tree.stop());
  const sig = tree.dir('sig');
  const st = tree.dir('st');
  const once = tree.dir('once');
  const got = path.join(sig, 'got');

  // signal letters: each one reaches run as its signal (the shell traps and records them)
  const letters: Array<[string, string]> = [['a', 'ALRM'], ['b', 'ABRT'], ['q', 'QUIT'], ['h', 'HUP'], ['t', 'TERM'], ['i', 'INT'], ['1', 'USR1'], ['2', 'USR2'], ['y', 'WINCH']];
  for (const [l, name] of letters) {
    await svc([`-${l}`, sig]);
    await waitFor(() => fs.existsSync(got) && fs.readFileSync(got, 'utf8').split('\n').includes(name), 5000, `SIG${name} recorded after -${l}`);
  }
  assert.deepEqual(fs.readFileSync(got, 'utf8').trim().split('\n'), letters.map(([, n]) => n), 'each signal once, in order');

  // -p / -c: SIGSTOP + paused flag, SIGCONT + flag cleared
  const pid = Number((await svstat(['-p', st])).trim());
  await svc(['-p', st]);
  await waitStatus(st, (s) => s.paused, 5000, 'paused');
  assert.match(await svstat([st]), /, paused\n$/);
  await waitFor(() => procState(pid) === 'T', 3000, 'run stopped (state T)');
  await svc(['-c', st]);
  await waitStatus(st, (s) => !s.paused, 5000, 'not paused');
  await waitFor(() => procState(pid) !== 'T', 3000, 'run continued');

  // -k: SIGKILL, restarted (wanted up), the tally says so
  await svc(['-k', st]);
  const s1 = await waitStatus(st, (s) => s.pid !== 0 && s.pid !== pid && !s.finishing, 5000, 'restarted after -k');
  assert.match((await tool('s6-svdt', [st])).stdout, /signal SIGKILL\n$/);

  // -d: down by SIGTERM, not restarted; -u: up again
  await svc(['-d', st]);
  await waitStatus(st, (s) => s.pid === 0 && !s.finishing, 5000, 'down after -d');
  assert.equal(await svstat(['-o', 'up,wantedup,signal', st]), 'false false SIGTERM\n');
  await svc(['-u', st]);
  await waitStatus(st, (s) => s.pid !== 0 && s.pid !== s1.pid, 5000, 'up after -u');
  assert.equal(await svstat(['-o', 'up,wantedup', st]), 'true true\n');

  // -O while up: no signal, not restarted after it dies
  await svc(['-O', st]);
  assert.equal(await svstat(['-o', 'up,wantedup', st]), 'true false\n');
  await svc(['-k', st]);
  await waitStatus(st, (s) => s.pid === 0, 5000, 'down after -O -k');
  assert.equal(await svstat(['-o', 'up,wantedup', st]), 'false false\n');

  // -U: removes ./down, up; -D: creates ./down, down; -Q: creates ./down, want down, still up
  fs.writeFileSync(path.join(st, 'down'), '');
  await svc(['-U', st]);
  await waitStatus(st, (s) => s.pid !== 0 && s.wantUp, 5000, 'up after -U');
  assert.equal(fs.existsSync(path.join(st, 'down')), false, '-U removed ./down');
  await svc(['-D', st]);
  await waitStatus(st, (s) => s.pid === 0 && !s.wantUp, 5000, 'down after -D');
  assert.equal(fs.existsSync(path.join(st, 'down')), true, '-D created ./down');
  assert.equal(await svstat(['-o', 'normallyup', st]), 'false\n');
  fs.unlinkSync(path.join(st, 'down'));
  await svc(['-u', st]);
  await waitStatus(st, (s) => s.pid !== 0, 5000, 'up again');
  await svc(['-Q', st]);
  assert.equal(fs.existsSync(path.join(st, 'down')), true, '-Q created ./down');
  assert.equal(await svstat(['-o', 'up,wantedup,normallyup', st]), 'true false false\n');

  // -o on a down service: runs once, is not restarted
  await svc(['-o', once]);
  await waitStatus(once, (s) => s.pid === 0 && s.wstat === 4 << 8, 5000, 'once ran and exited 4');
  assert.equal(await svstat(['-o', 'up,wantedup,exitcode', once]), 'false false 4\n');
  assert.equal((await tool('s6-svdt', [once])).stdout.trim().split('\n').length, 1, 'it ran exactly once');

  // -r: restart by the down-signal; -x: the supervisor exits once the service is down (event x)
  fs.unlinkSync(path.join(st, 'down'));
  await svc(['-u', st]);
  const up = await waitStatus(st, (s) => s.pid !== 0 && s.wantUp, 5000, 'wanted up');
  await svc(['-r', st]);
  await waitStatus(st, (s) => s.pid !== 0 && s.pid !== up.pid, 5000, 'restarted by -r');
  assert.match((await tool('s6-svdt', [st])).stdout, /signal SIGTERM\n$/);
  const ev = recordEvents(path.join(st, 'event'));
  t.after(() => ev.close());
  await svc(['-dx', st]);
  await ev.waitMatch(/x/, 5000);
  assert.match(ev.bytes(), /d.*D.*x/s, 'down, then the supervisor exit');
});

test('svc writes every letter in one write, in command-line order', async (t) => {
  const root = tmpdir('vigil-cli-svc-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  fs.mkdirSync(path.join(root, 'supervise'));
  const fifo = path.join(root, 'supervise', 'control');
  native().mkfifo(fifo, 0o600);
  const rfd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  t.after(() => fs.closeSync(rfd));
  const all = 'abqhkti12pcyroduDUxOQ';
  const trace = path.join(root, 'trace');
  const r = await tool('strace', ['-f', '-qq', '-e', 'trace=write', '-o', trace, process.execPath, VIGIL, 'svc', ...all.split('').map((c) => `-${c}`), root]);
  assert.equal(r.code, 0, r.stderr);
  const buf = Buffer.alloc(256);
  const n = fs.readSync(rfd, buf, 0, 256, null);
  assert.equal(buf.subarray(0, n).toString(), all);
  const writes = fs.readFileSync(trace, 'utf8').split('\n').filter((l) => l.includes(`"${all}"`));
  assert.equal(writes.length, 1, `one write of all letters:\n${writes.join('\n')}`);
  assert.match(writes[0], new RegExp(`write\\([0-9]+, "${all}", ${all.length}\\) = ${all.length}`));
});

test('svc error paths match s6-svc (messages, exit codes)', async (t) => {
  const root = tmpdir('vigil-cli-svcerr-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const mk = (p: string) => fs.mkdirSync(path.join(root, p), { recursive: true });
  mk('nosup');
  mk('nolisten/supervise');
  native().mkfifo(path.join(root, 'nolisten/supervise/control'), 0o600);
  mk('nocontrol/supervise');
  mk('supfile');
  fs.writeFileSync(path.join(root, 'supfile/supervise'), '');
  fs.writeFileSync(path.join(root, 'file'), '');
  const d = (p: string) => path.join(root, p);
  const cases: string[][] = [
    ['-u', d('missing')],
    ['-u', d('nosup')],
    ['-u', d('nolisten')],
    ['-u', d('nocontrol')],
    ['-u', d('supfile')],
    ['-u', d('file')],
    ['-u', d('nolisten'), 'extra'],
    [d('nolisten')],
    [],
    ['-Z', d('nosup')],
    ['-wx', '-u', d('nosup')],
    ['-T', '12x', '-u', d('nosup')],
    ['-u', ''],
    [`-${'u'.repeat(63)}`, d('nosup')],
    [`-${'u'.repeat(62)}`, d('nosup')],
    // the deadline must cover s6-svwait's start of its s6-ftrigrd helper, or s6's answer on a loaded machine is
    // "unable to subscribe ... Connection timed out"; both fail at once on the missing status either way
    ['-wu', '-T', '5000', d('nosup')],
    ['-wU', '-T', '5000', d('nosup')],
  ];
  const results: Array<Awaited<ReturnType<typeof both>>> = [];
  await pool(cases.map((args, i) => async () => {
    results[i] = await both('svc', args);
  }), 6);
  results.forEach(([s6, vg], i) => {
    const what = `svc ${cases[i].join(' ')}`;
    assert.equal(vg.code, s6.code, `${what}: exit code (s6: ${s6.stderr})`);
    assert.equal(vg.stdout, s6.stdout, `${what}: stdout`);
    // with -w, s6-svc execs s6-svwait/s6-svlisten1, whose messages carry their own names
    const s6err = s6.stderr.replace(/^s6-svwait: /gm, 's6-svc: ').replace(/^s6-svlisten1: /gm, 's6-svc: ');
    assert.equal(asS6(vg.stderr), s6err, `${what}: stderr`);
  });
  // the contract, spelled out
  assert.equal(results[0][1].code, 111, 'no directory: 111');
  assert.equal(results[1][1].code, 100, 'no supervise/: 100');
  assert.equal(results[2][1].code, 100, 'nobody reading control: 100');
  assert.equal(results[2][1].stderr, `vigil svc: fatal: : unable to control ${d('nolisten')}: supervisor not listening\n`);
  assert.equal(results[3][1].code, 100, 'supervise/ without control: 100');

  const help = await vigil(['svc', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: vigil svc /);
});
