/**
 * s6-overlay's `with-contenv` and `printcontenv`, vigil's own (`vigil with-contenv PROG...`,
 * `vigil printcontenv NAME`, and as compat/s6-overlay/command/{with-contenv,printcontenv}, so that a
 * `#!/command/with-contenv bash` script works unchanged). The rules are s6-overlay 3.2.3.2's
 * (src/formats/s6overlay.ts): the container environment is RUNDIR/s6/container_environment.
 *
 * with-contenv PROG ARGS...: unless S6_KEEP_ENV is set, the environment is emptied except PATH (`emptyenv -p`),
 * the envdir is applied as `s6-envdir -Lf` reads it (whole file, one trailing newline removed, NUL → newline,
 * an empty file unsets), then PROG is exec'd (searched in the new PATH). Exit codes, as there: 100 usage,
 * 111 the envdir unreadable (or a directory / fifo in it), 127 PROG not found, 126 not executable.
 *
 * printcontenv NAME: the file's bytes followed by "\n" (exit 1 if it is missing); with S6_KEEP_ENV, the
 * variable's value and "\n" (exit 1 if unset or empty). 100 without a NAME.
 */
import * as fs from 'node:fs';
import { applyEnvdir, EnvdirError, readEnvdir } from '../formats/envdir';
import { containerEnvDir, keepEnv, s6oRundir } from '../formats/s6overlay';
import { execReplace } from '../sys/exec';
import { which } from '../sys/spawn';
import { strerror } from '../sys/errors';

function say(line: string): void {
  try {
    fs.writeSync(2, `${line}\n`);
  } catch {
    /* stderr closed */
  }
}

/** The environment with-contenv gives PROG (exported for the tests). Throws EnvdirError. */
export function contenv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (keepEnv(env.S6_KEEP_ENV)) return env;
  const out: NodeJS.ProcessEnv = {};
  if (env.PATH !== undefined) out.PATH = env.PATH;
  applyEnvdir(out, readEnvdir(containerEnvDir(s6oRundir(env)), { verbatim: true, noClamp: true }));
  return out;
}

export function withContenv(argv: string[]): number {
  const prog = 'with-contenv';
  if (argv[0] === '--') argv = argv.slice(1);
  if (!argv.length || argv[0] === '--help') {
    say(`${prog}: usage: ${prog} prog...`);
    return argv.length ? 0 : 100;
  }
  let env: NodeJS.ProcessEnv;
  try {
    env = contenv(process.env);
  } catch (e) {
    if (e instanceof EnvdirError) {
      say(`${prog}: fatal: ${e.message}`);
      return 111;
    }
    throw e;
  }
  const name = argv[0];
  const file = name.includes('/') ? name : which(name, env.PATH ?? '/usr/bin:/bin');
  if (file === null) {
    say(`${prog}: fatal: unable to exec ${name}: No such file or directory`);
    return 127;
  }
  try {
    execReplace(file, argv, env);
  } catch (e) {
    say(`${prog}: fatal: unable to exec ${name}: ${strerror(e)}`);
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 127 : 126;
  }
}

export function printcontenv(argv: string[]): number {
  if (!argv.length) {
    say('printcontenv: fatal: too few arguments');
    return 100;
  }
  const name = argv[0];
  if (name === '--help') {
    process.stdout.write('usage: printcontenv NAME\n  print the container environment\'s NAME and a newline; exit 1 if it is not there\n');
    return 0;
  }
  if (keepEnv(process.env.S6_KEEP_ENV)) {
    const v = process.env[name];
    if (!v) return 1;
    fs.writeSync(1, `${v}\n`);
    return 0;
  }
  let buf: Buffer;
  try {
    buf = fs.readFileSync(`${containerEnvDir(s6oRundir())}/${name}`);
  } catch {
    return 1; // s6-overlay's script silences its stderr here
  }
  writeAll(1, Buffer.concat([buf, Buffer.from('\n')]));
  return 0;
}

function writeAll(fd: number, b: Buffer): void {
  for (let off = 0; off < b.length;) off += fs.writeSync(fd, b, off, b.length - off);
}

export function run(argv: string[]): number {
  return argv[0] === 'printcontenv' ? printcontenv(argv.slice(1)) : withContenv(argv.slice(1));
}
