// s6-overlay's container environment with real processes: vigil's envdir reader against Debian's s6-envdir
// in each of its modes on the same files; `with-contenv` (vigil's command and the compat executable a
// `#!/command/with-contenv` script reaches) against `emptyenv -p s6-envdir -Lf` (s6-overlay 3.2.3.2's
// with-contenv); printcontenv; S6_KEEP_ENV; the container exit code against s6-linux-init's exit script.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { envdirFile, readEnvdir } from '../../src/formats/envdir';
import { keepEnv, readExitcode, presetExitcode, exitcodeFile, containerEnvDir } from '../../src/formats/s6overlay';
import { ROOT, VIGIL } from '../helpers/svscan';

const EL = '/usr/lib/execline/bin';
/** a PATH without execline's directory (compat with-contenv then runs vigil's own), and one with it (emptyenv + s6-envdir) */
const NO_EL = (process.env.PATH ?? '/usr/bin:/bin').split(':').filter((d) => d && !d.includes('execline')).join(':');
const WITH_EL = `${EL}:${NO_EL}`;
const COMPAT = path.join(ROOT, 'compat', 's6-overlay');
const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-contenv-'));
  dirs.push(d);
  return d;
}

interface Run { code: number | null; stdout: Buffer; stderr: string }
function run(file: string, args: string[], env: NodeJS.ProcessEnv, ms = 15000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: ms, killSignal: 'SIGKILL', encoding: 'buffer', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, stdout, stderr: stderr.toString() });
    });
  });
}

/** a program that prints its environment as JSON */
const DUMP = [process.execPath, '-e', 'process.stdout.write(JSON.stringify(process.env))'];
const parseEnv = (r: Run) => JSON.parse(r.stdout.toString()) as Record<string, string>;

/** the files image authors and s6-linux-init's dump leave in an envdir */
const FILES: Record<string, string | Buffer> = {
  NL1: 'a\n', NL2: 'a\n\n', NOEND: 'noend', TRAIL: 'a  \t\n', SPEND: 'sp  ', LEAD: '  lead\n', TWO: 'a b\nsecond\n',
  EMPTY: '', JUSTNL: '\n', NUL: Buffer.from('x\0y\n'), NULEND: Buffer.from('a\0'), ONLYNUL: Buffer.from('\0'),
  CRLF: 'b\r\n', CR: '\r\n', VT: 'a\v\n', UTF8: 'héllo ✓\n', BIG: 'z'.repeat(5000) + '\n', EDGE: 'b'.repeat(4094) + 'c  \n',
  '.DOT': 'hidden\n', 'A=B': 'eq\n', DUMPED: envdirFile('value with\nnewline\n'), PATH: '/envdir/path:/usr/bin:/bin\n',
};
function envdir(files: Record<string, string | Buffer> = FILES): string {
  const d = tmp();
  for (const [n, v] of Object.entries(files)) fs.writeFileSync(path.join(d, n), v);
  return d;
}

test('envdir reader = s6-envdir in every mode (default, -n, -f, -fn, -Lf, -Lfn) on the same files', async () => {
  const d = envdir();
  const base = { PATH: process.env.PATH, EMPTY: 'was set', JUSTNL: 'was set' };
  for (const [flags, o] of [
    ['', {}], ['-n', { noChomp: true }], ['-f', { verbatim: true }], ['-fn', { verbatim: true, noChomp: true }],
    ['-Lf', { verbatim: true, noClamp: true }], ['-Lfn', { verbatim: true, noClamp: true, noChomp: true }],
  ] as const) {
    const r = await run('s6-envdir', [...(flags ? [flags] : []), d, ...DUMP], base);
    assert.equal(r.code, 0, r.stderr);
    const expected = parseEnv(r);
    const mine: Record<string, string> = { ...base } as Record<string, string>;
    for (const [k, v] of Object.entries(readEnvdir(d, o))) {
      if (v === null) delete mine[k];
      else mine[k] = v;
    }
    assert.deepEqual(mine, expected, `s6-envdir ${flags}`);
  }
  // s6-envdir 2.11 dies on a subdirectory (and a dangling symlink): so does the strict reader, naming it
  fs.mkdirSync(path.join(d, 'SUB'));
  assert.equal((await run('s6-envdir', ['-Lf', d, 'true'], {})).code, 111);
  assert.throws(() => readEnvdir(d, { verbatim: true, noClamp: true }), /SUB: not a regular file/);
  const warned: string[] = [];
  assert.equal(readEnvdir(d, {}, (l) => warned.push(l)).NL1, 'a', 'the lenient reader (init\'s BASEDIR/env) warns and goes on');
  assert.match(warned.join('\n'), /SUB: not a regular file/);
});

test('with-contenv = emptyenv -p s6-envdir -Lf: same environment from the same envdir, through vigil and the compat executable', async () => {
  const rundir = tmp();
  const ce = containerEnvDir(rundir);
  fs.mkdirSync(path.dirname(ce), { recursive: true });
  fs.renameSync(envdir(), ce);
  const caller = { PATH: NO_EL, HOME: '/root', FOO: 'caller only', EMPTY: 'was set', VIGIL_RUNDIR: rundir };
  const ref = await run(`${EL}/emptyenv`, ['-p', 's6-envdir', '-Lf', ce, ...DUMP], caller);
  assert.equal(ref.code, 0, ref.stderr);
  const expected = parseEnv(ref);
  assert.equal(expected.FOO, undefined);
  assert.equal(expected.PATH, '/envdir/path:/usr/bin:/bin');
  assert.equal(expected.DUMPED, 'value with\nnewline\n', 's6-linux-init 1.2\'s dump, read back exactly');
  const viaVigil = await run(process.execPath, [VIGIL, 'with-contenv', ...DUMP], caller);
  assert.equal(viaVigil.code, 0, viaVigil.stderr);
  assert.deepEqual(parseEnv(viaVigil), expected);
  const viaCompat = await run(path.join(COMPAT, 'command', 'with-contenv'), DUMP, caller);
  assert.equal(viaCompat.code, 0, viaCompat.stderr);
  assert.deepEqual(parseEnv(viaCompat), expected);
  // the compat executable with the image's execline and s6 on PATH: emptyenv + s6-envdir do it
  const viaTools = await run(path.join(COMPAT, 'command', 'with-contenv'), DUMP, { ...caller, PATH: WITH_EL });
  assert.equal(viaTools.code, 0, viaTools.stderr);
  assert.deepEqual(parseEnv(viaTools), expected);

  // as image authors write it: a `#!/command/with-contenv sh` script (the compat executable through a symlink
  // elsewhere, as the init mode places it); PROG is searched in the container environment's PATH
  const cmdDir = tmp();
  fs.symlinkSync(path.join(COMPAT, 'command', 'with-contenv'), path.join(cmdDir, 'with-contenv'));
  const script = path.join(cmdDir, 'svc-run');
  fs.writeFileSync(script, `#!${cmdDir}/with-contenv sh\nprintf '%s|%s|%s' "$NL2" "$FOO" "\${EMPTY-unset}"\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(ce, 'PATH'), '/usr/bin:/bin\n');
  for (const PATH of [`${path.dirname(process.execPath)}:/usr/bin:/bin`, `${EL}:${path.dirname(process.execPath)}:/usr/bin:/bin`]) {
    const s = await run(script, [], { ...caller, PATH });
    assert.equal(s.code, 0, s.stderr);
    assert.equal(s.stdout.toString(), 'a\n||unset', PATH);
  }

  // S6_KEEP_ENV: a no-op (the caller's environment, envdir ignored); "0", "", "yes" are not "set"
  for (const argv of [[process.execPath, VIGIL, 'with-contenv'], [path.join(COMPAT, 'command', 'with-contenv')]]) {
    const kept = parseEnv(await run(argv[0], [...argv.slice(1), ...DUMP], { ...caller, S6_KEEP_ENV: '1' }));
    // the compat script is sh: the shell exports PWD (busybox's SHLVL too) on its way to PROG
    if (argv.length === 1) for (const k of ['PWD', 'SHLVL']) delete kept[k];
    assert.deepEqual(kept, { ...caller, S6_KEEP_ENV: '1' });
    for (const v of ['0', '', '00', 'yes', ' 1']) {
      const r = await run(argv[0], [...argv.slice(1), ...DUMP], { ...caller, S6_KEEP_ENV: v });
      assert.equal(parseEnv(r).FOO, undefined, `S6_KEEP_ENV=${JSON.stringify(v)} clears (${argv.join(' ')})`);
    }
    const r = await run(argv[0], [...argv.slice(1), ...DUMP], { ...caller, S6_KEEP_ENV: '2x' });
    assert.equal(parseEnv(r).FOO, 'caller only');
  }
  for (const [v, k] of [['1', true], ['2x', true], ['0', false], [undefined, false], [' 1', false], ['-1', false], ['010', true]] as const) {
    assert.equal(keepEnv(v), k, String(v));
  }
});

test('with-contenv errors: exit codes and messages as s6-overlay\'s (111 envdir, 127 not found, 126 not executable, 100 usage)', async () => {
  const rundir = tmp();
  const env = { PATH: process.env.PATH, VIGIL_RUNDIR: rundir };
  let r = await run(process.execPath, [VIGIL, 'with-contenv', 'true'], env);
  assert.equal(r.code, 111, 'no container environment: s6-envdir dies with 111');
  assert.match(r.stderr, /^with-contenv: fatal: unable to read envdir .*container_environment: No such file or directory\n$/);
  fs.mkdirSync(path.join(containerEnvDir(rundir), 'sub'), { recursive: true });
  r = await run(process.execPath, [VIGIL, 'with-contenv', 'true'], env);
  assert.equal(r.code, 111);
  assert.match(r.stderr, /sub: not a regular file/);
  fs.rmdirSync(path.join(containerEnvDir(rundir), 'sub'));
  r = await run(process.execPath, [VIGIL, 'with-contenv', 'no-such-program-x'], env);
  assert.equal(r.code, 127);
  assert.equal(r.stderr, 'with-contenv: fatal: unable to exec no-such-program-x: No such file or directory\n');
  const notx = path.join(rundir, 'notx');
  fs.writeFileSync(notx, '#!/bin/sh\n', { mode: 0o644 });
  r = await run(process.execPath, [VIGIL, 'with-contenv', notx], env);
  assert.equal(r.code, 126);
  assert.match(r.stderr, /unable to exec .*notx: Permission denied/);
  r = await run(process.execPath, [VIGIL, 'with-contenv'], env);
  assert.equal(r.code, 100);
  // the same exit codes from the compat executable, whichever way it goes
  fs.rmSync(containerEnvDir(rundir), { recursive: true });
  for (const PATH of [NO_EL, WITH_EL]) {
    const wc = path.join(COMPAT, 'command', 'with-contenv');
    assert.equal((await run(wc, ['true'], { PATH, VIGIL_RUNDIR: rundir })).code, 111, `${PATH}: no envdir`);
    fs.mkdirSync(containerEnvDir(rundir), { recursive: true });
    assert.equal((await run(wc, ['no-such-program-x'], { PATH, VIGIL_RUNDIR: rundir })).code, 127, PATH);
    assert.equal((await run(wc, [notx], { PATH, VIGIL_RUNDIR: rundir })).code, 126, PATH);
    fs.rmSync(containerEnvDir(rundir), { recursive: true });
  }
});

test('printcontenv: the file\'s bytes and a newline; 1 when missing; S6_KEEP_ENV prints the variable', async () => {
  const rundir = tmp();
  const ce = containerEnvDir(rundir);
  fs.mkdirSync(ce, { recursive: true });
  fs.writeFileSync(path.join(ce, 'MULTI'), Buffer.from('one\ntwo\0three'));
  fs.writeFileSync(path.join(ce, 'TZ'), 'Europe/Paris');
  const env = { PATH: process.env.PATH, VIGIL_RUNDIR: rundir, TZ: 'UTC' };
  const pce = path.join(COMPAT, 'command', 'printcontenv');
  let r = await run(pce, ['MULTI'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout, Buffer.from('one\ntwo\0three\n'));
  r = await run(process.execPath, [VIGIL, 'printcontenv', 'TZ'], env);
  assert.equal(r.stdout.toString(), 'Europe/Paris\n');
  // the shell's own way of reading it, as s6-overlay's script does (cat for s6-cat)
  const sh = await run('/bin/sh', ['-c', `cat < "${ce}/MULTI" && echo`], env);
  assert.deepEqual((await run(pce, ['MULTI'], env)).stdout, sh.stdout);
  r = await run(pce, ['MISSING'], env);
  assert.deepEqual([r.code, r.stdout.length, r.stderr], [1, 0, '']);
  r = await run(pce, [], env);
  assert.deepEqual([r.code, r.stderr], [100, 'printcontenv: fatal: too few arguments\n']);
  r = await run(pce, ['TZ'], { ...env, S6_KEEP_ENV: '1' });
  assert.deepEqual([r.code, r.stdout.toString()], [0, 'UTC\n']);
  r = await run(pce, ['MULTI'], { ...env, S6_KEEP_ENV: '1' });
  assert.equal(r.code, 1, 'kept environment: an unset variable is exit 1');
  r = await run(pce, ['TZ'], { ...env, S6_KEEP_ENV: '1', TZ: '' });
  assert.equal(r.code, 1, 'and so is an empty one');
});

test('the container exit code from the results directory = s6-linux-init\'s exit script (s6-envdir, importas -D0, exit)', async () => {
  const rundir = tmp();
  presetExitcode(rundir);
  assert.equal(fs.readFileSync(exitcodeFile(rundir), 'utf8'), '0\n');
  const results = path.dirname(exitcodeFile(rundir));
  const cases: Array<string | null> = ['0\n', '3\n', '143', '300\n', '256\n', '7  \n', '42\nrest\n', '', '\n', 'abc\n', ' 7\n', '3x\n', '-1\n', null];
  for (const c of cases) {
    if (c === null) fs.rmSync(exitcodeFile(rundir), { force: true });
    else fs.writeFileSync(exitcodeFile(rundir), c);
    const ref = await run(`${EL}/execlineb`, ['-Pc', `s6-envdir ${results} importas -uD0 EXITCODE exitcode exit $EXITCODE`], { PATH: `${EL}:/usr/bin:/bin` });
    const problems: string[] = [];
    assert.equal(readExitcode(rundir, (l) => problems.push(l)), ref.code, `exitcode file ${JSON.stringify(c)}`);
    if (ref.code === 100) assert.match(problems.join(''), /exitcode: not an exit code/);
  }
});
