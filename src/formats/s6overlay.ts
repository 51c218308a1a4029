/**
 * s6-overlay v3's run-time conventions that its images' scripts depend on (s6-rc-and-s6-overlay.md §B4, §B6),
 * in one place for `vigil init --s6-overlay` and the commands it puts on the services' PATH
 * (compat/s6-overlay/: with-contenv, printcontenv, s6-rc, halt):
 *
 * - the container environment: RUNDIR/s6/container_environment, an envdir holding the boot environment,
 *   read by with-contenv as `s6-envdir -Lf` (s6-overlay 3.2.2.0 and later; up to 3.2.1.0 it was `-Lfn`, with
 *   a dump that wrote no trailing newline). `S6_KEEP_ENV` other than 0 turns with-contenv into a no-op;
 * - the container results: RUNDIR/s6-linux-init-container-results/exitcode, preset to "0\n" at boot;
 *   a finish script (or rc.init's `haltwith`) writes a code there, then runs RUNDIR/s6/basedir/bin/halt;
 *   the container exits with the code the file holds (read as s6-linux-init's exit script does).
 *
 * RUNDIR is $VIGIL_RUNDIR when set (vigil init sets it for everything it starts), else /run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readEnvdir } from './envdir';

export function s6oRundir(env: NodeJS.ProcessEnv = process.env): string {
  return env.VIGIL_RUNDIR || '/run';
}

export function containerEnvDir(rundir: string): string {
  return path.join(rundir, 's6', 'container_environment');
}

export function resultsDir(rundir: string): string {
  return path.join(rundir, 's6-linux-init-container-results');
}

export function exitcodeFile(rundir: string): string {
  return path.join(resultsDir(rundir), 'exitcode');
}

export function haltPath(rundir: string): string {
  return path.join(rundir, 's6', 'basedir', 'bin', 'halt');
}

/**
 * Is S6_KEEP_ENV set? s6-overlay tests `0$S6_KEEP_ENV` against 0 as an integer (execline's eltest reads the
 * leading digits; `sh`'s test refuses a non-number, which also means "not kept"): kept when the leading
 * digits of "0" + the value are not all zeros. Unset, "", "0", "00", "yes", " 1" → not kept; "1", "2x" → kept.
 */
export function keepEnv(value: string | undefined): boolean {
  const digits = /^[0-9]*/.exec(`0${value ?? ''}`)![0];
  return /[1-9]/.test(digits);
}

/** Preset the exitcode file to "0\n" (s6-linux-init-maker's run-image does it). Creates the directory. */
export function presetExitcode(rundir: string): void {
  fs.mkdirSync(resultsDir(rundir), { recursive: true, mode: 0o755 });
  fs.writeFileSync(exitcodeFile(rundir), '0\n');
}

/**
 * The container's exit code from the results directory, as s6-linux-init's container exit script computes it:
 * `s6-envdir RESULTS` (first line, trailing blanks removed; an empty or missing file = unset), `importas -D0`
 * (unset = 0), `exit $EXITCODE`: a decimal number, modulo 256; anything else (an empty line, "3x", " 3", "-1")
 * is execline's usage error, 100 — kept, with a line through `problem` that names the file.
 */
export function readExitcode(rundir: string, problem: (line: string) => void = () => {}): number {
  const file = exitcodeFile(rundir);
  const v = readEnvdir(resultsDir(rundir), {}, problem, true).exitcode;
  if (v === undefined || v === null) return 0;
  if (!/^[0-9]+$/.test(v)) {
    problem(`${file}: not an exit code: ${JSON.stringify(v)} - exiting 100`);
    return 100;
  }
  return Number(BigInt(v) % 256n);
}
