/**
 * vigil svstat and s6-svstat on hand-made status files (the test holds each supervise/lock with an OFD
 * lock, which s6's F_GETLK sees): every signal number s6 can print (names 1–31, SIG??? beyond), odd wait
 * statuses (core dump bit, 0x7f, 0x17f, exit 255), all 16 flag combinations, stamps in the future, and a
 * short status file. Stamps sit half-way through a second so both tools print the same seconds.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { both, asS6, pool } from '../helpers/cli-tree';
import { tmpdir } from '../helpers/scandir';
import { native } from '../../src/sys/native';
import { encodeStatus } from '../../src/formats/status';
import { tainFromUnixMs } from '../../src/formats/tai64n';

interface Case {
  pid: number;
  wstat: number;
  flags: number;
  /** seconds ago (negative: in the future) */
  age: number;
  readyAge: number;
  down?: boolean;
  /** which invocations to compare: h human, n -n, o all fields, s the stamps */
  runs: string;
}

/**
 * Node starts far slower than s6-svstat, so the two runs can be a second or more apart: mask the seconds
 * counts (the human line's `N seconds`, the last two -o fields), but keep the first digits of a wrapped
 * 20-digit count so the unsigned wrap-around is still compared.
 */
function mask(out: string): string {
  const wrap = (n: string): string => (n.length >= 15 ? n.slice(0, 10) + '…' : 'N');
  if (/ seconds/.test(out)) return out.replace(/([0-9]+) seconds/g, (_m, n: string) => `${wrap(n)} seconds`);
  const parts = out.trimEnd().split(' ');
  if (parts.length === 11) {
    parts[9] = wrap(parts[9]);
    parts[10] = wrap(parts[10]);
  }
  return parts.join(' ') + '\n';
}

function writeCase(dir: string, c: Case): void {
  const now = Date.now();
  const buf = encodeStatus({
    stamp: tainFromUnixMs(now - c.age * 1000 - 500),
    readyStamp: tainFromUnixMs(now - c.readyAge * 1000 - 500),
    pid: c.pid,
    wstat: c.wstat,
    paused: (c.flags & 1) !== 0,
    finishing: (c.flags & 2) !== 0,
    wantUp: (c.flags & 4) !== 0,
    ready: (c.flags & 8) !== 0,
  });
  fs.writeFileSync(path.join(dir, 'supervise', 'status'), buf);
  if (c.down) fs.writeFileSync(path.join(dir, 'down'), '');
}

test('svstat on crafted status files matches s6-svstat', async (t) => {
  const root = tmpdir('vigil-cli-crafted-');
  const fds: number[] = [];
  t.after(() => {
    for (const fd of fds) fs.closeSync(fd);
    fs.rmSync(root, { recursive: true, force: true });
  });
  const cases: Case[] = [];
  // every signal number, and a few beyond the table
  for (let sig = 1; sig <= 66; sig += sig < 33 ? 1 : 8) cases.push({ pid: 0, wstat: sig, flags: 0x0c, age: 5, readyAge: 3, runs: sig < 33 ? 'h' : 'hno' });
  // odd wait statuses
  for (const w of [0x8b, 0x7f, 0x17f, 0xff00, 0x105, 3 << 8, 0]) cases.push({ pid: 0, wstat: w, flags: 0x04, age: 7, readyAge: 2, runs: 'hno' });
  // every flag combination, up and down, normally up and normally down
  for (let f = 0; f < 16; f++) {
    cases.push({ pid: 4242, wstat: 15, flags: f, age: 65, readyAge: 61, down: f % 3 === 0, runs: 'ho' });
    if (f % 4 === 1) cases.push({ pid: 0, wstat: 1 << 8, flags: f, age: 3700, readyAge: 9, down: f % 8 === 1, runs: 'ho' });
  }
  // stamps in the future: stamp is clamped to now, readystamp is not (unsigned wrap-around). A day ahead: the
  // files are written first and the ~170 tool runs can take minutes on a loaded machine (100 s ahead turned
  // into the past in the middle of one run, between s6-svstat and vigil svstat)
  cases.push({ pid: 77, wstat: 0, flags: 0x0c, age: -86400, readyAge: 3, runs: 'hos' });
  cases.push({ pid: 0, wstat: 0, flags: 0x0c, age: 4, readyAge: -86400, runs: 'hos' });
  cases.push({ pid: 0, wstat: 9, flags: 0x08, age: 4, readyAge: 3, runs: 's' });

  const dirs = cases.map((c, i) => {
    const dir = path.join(root, `s${i}`);
    fs.mkdirSync(path.join(dir, 'supervise'), { recursive: true });
    const fd = fs.openSync(path.join(dir, 'supervise', 'lock'), fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    fds.push(fd);
    assert.equal(native().lock(fd, true, true), true, 'take the OFD lock');
    writeCase(dir, c);
    return dir;
  });
  // a short status file: both fail with 111 and the same message (EPIPE)
  const short = path.join(root, 'short');
  fs.mkdirSync(path.join(short, 'supervise'), { recursive: true });
  const sfd = fs.openSync(path.join(short, 'supervise', 'lock'), fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
  fds.push(sfd);
  native().lock(sfd, true, true);
  fs.writeFileSync(path.join(short, 'supervise', 'status'), Buffer.alloc(20));

  const failures: string[] = [];
  const fieldsAll = 'up,wantedup,normallyup,ready,paused,pid,exitcode,signal,signum,updownfor,readyfor';
  const tasks: Array<() => Promise<void>> = [];
  dirs.forEach((dir, i) => {
    const future = cases[i].age < 0;
    const runs: string[][] = [];
    if (cases[i].runs.includes('h')) runs.push([dir]);
    if (cases[i].runs.includes('n')) runs.push(['-n', dir]);
    if (cases[i].runs.includes('o')) runs.push(['-o', fieldsAll, dir]);
    if (cases[i].runs.includes('s')) runs.push(['-o', future ? 'readysince' : 'updownsince,readysince', dir]);
    for (const args of runs) {
      tasks.push(async () => {
        const [s6, vg] = await both('svstat', args);
        if (s6.code !== vg.code || mask(s6.stdout) !== mask(vg.stdout) || s6.stderr !== asS6(vg.stderr)) {
          failures.push(`${JSON.stringify(cases[i])} svstat ${args.slice(0, -1).join(' ')}: s6 ${JSON.stringify(s6.stdout)} (${s6.code}) vigil ${JSON.stringify(vg.stdout)} (${vg.code}) ${vg.stderr}`);
        }
      });
    }
  });
  tasks.push(async () => {
    const [s6, vg] = await both('svstat', [short]);
    assert.equal(vg.code, 111);
    assert.equal(s6.code, 111);
    assert.equal(asS6(vg.stderr), s6.stderr);
  });
  await pool(tasks, 6);
  assert.deepEqual(failures, [], failures.join('\n'));
});
