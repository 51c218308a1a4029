/**
 * `vigil init --s6-overlay`: what makes vigil an s6-overlay v3 `/init` (facts: shared reference
 * s6-rc-and-s6-overlay.md part B). Pure parts (the S6_* settings with s6-overlay's code defaults, the source
 * directories, the sh settings file) are functions of their inputs; the boot-time files (the environment
 * dump, the exitcode file, the settings file) are written here; init.ts wires them into its stages.
 *
 * The service sets s6-overlay compiles into its database at every boot (base, fix-attrs, legacy-cont-init,
 * legacy-services, top; user and user2 when the image has none) are carried by vigil in
 * share/s6-overlay/ (the package), with sh scripts of vigil's own for the legacy directories
 * (share/s6-overlay/scripts), so an image without s6-overlay's files runs too.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../sys/native';
import { exists, isDir } from '../sys/stat';
import { containerEnvDir, presetExitcode } from '../formats/s6overlay';

/** The S6_* variables vigil honours, parsed, with s6-overlay's code defaults (facts B5). */
export interface OverlayConfig {
  /** S6_KEEP_ENV: everything gets the container's environment (else only PATH, as s6-overlay) */
  keepEnv: boolean;
  /** S6_LOGGING: 0 no catch-all log, lines on the container's stdout; 1 the log and the copy; 2 the log only */
  logging: number;
  /** S6_LOGGING_SCRIPT, split on blanks (null: unset); its `t` and `T` choose the catch-all log's stamps */
  loggingScript: string[] | null;
  /** S6_CATCHALL_USER (null: unset): not applicable under vigil (the catch-all logger is inside PID 1) */
  catchallUser: string | null;
  /** S6_WAIT_FOR_CLOSING_FD: 3 or more: wait for EOF on that fd before anything runs (0: do not) */
  waitClosingFd: number;
  /** S6_FIX_ATTRS_HIDDEN: fix-attrs.d's recursion includes dot entries */
  fixAttrsHidden: boolean;
  /** S6_BEHAVIOUR_IF_STAGE2_FAILS: 0 go on, 1 go on with a warning, 2 stop the container with the code */
  behaviour: number;
  /** S6_CMD_WAIT_FOR_SERVICES (legacy services.d waited for before CMD) */
  waitForServices: number;
  /** S6_CMD_WAIT_FOR_SERVICES_MAXTIME: `top`'s deadline and the services.d wait's (ms, 0 = none) */
  waitMaxtime: number;
  /** S6_SERVICES_READYTIME ms (services.d, before waiting) */
  readytime: number;
  /** S6_SERVICES_GRACETIME ms (services.d going down) */
  servicesGracetime: number;
  /** S6_KILL_GRACETIME ms: TERM → KILL at shutdown (null: not set, init's --grace) */
  killGracetime: number | null;
  /** S6_KILL_FINISH_MAXTIME ms per cont-finish.d script (0 = no limit) */
  killFinishMaxtime: number;
  /** S6_VERBOSITY */
  verbosity: number;
  /** S6_READ_ONLY_ROOT */
  readOnlyRoot: boolean;
  /** S6_SYNC_DISKS */
  syncDisks: boolean;
  /** S6_CMD_ARG0: words put before CMD (split on blanks, as rc.init's unquoted expansion) */
  cmdArg0: string[];
  /** S6_STAGE2_HOOK: a command line (split on blanks), run before the sources are read */
  stage2Hook: string[];
  /** S6_RUNTIME_PROFILE */
  profile: string | null;
  /** S6_RUNTIME_BUNDLEDIR */
  bundledir: string | null;
  /** values that were not what they should be, one line each */
  warnings: string[];
}

const DIGITS = /^[0-9]+$/;

/** S6_* from an environment, with s6-overlay's defaults where a value is missing or not a number. */
export function overlayConfig(env: NodeJS.ProcessEnv): OverlayConfig {
  const warnings: string[] = [];
  const num = (name: string, dflt: number): number => {
    const v = env[name];
    if (v === undefined || v === '') return dflt;
    if (DIGITS.test(v)) return Number(v);
    warnings.push(`${name}=${JSON.stringify(v)} is not a number: using ${dflt}`);
    return dflt;
  };
  const words = (v: string | undefined): string[] => (v ?? '').split(/[ \t\n]+/).filter(Boolean);
  const str = (v: string | undefined): string | null => (v === undefined || v === '' ? null : v);
  const kill = env.S6_KILL_GRACETIME;
  return {
    keepEnv: num('S6_KEEP_ENV', 0) !== 0,
    logging: num('S6_LOGGING', 0),
    loggingScript: env.S6_LOGGING_SCRIPT === undefined ? null : words(env.S6_LOGGING_SCRIPT),
    catchallUser: str(env.S6_CATCHALL_USER),
    waitClosingFd: num('S6_WAIT_FOR_CLOSING_FD', 0),
    fixAttrsHidden: num('S6_FIX_ATTRS_HIDDEN', 0) !== 0,
    behaviour: num('S6_BEHAVIOUR_IF_STAGE2_FAILS', 0),
    waitForServices: num('S6_CMD_WAIT_FOR_SERVICES', 0),
    waitMaxtime: num('S6_CMD_WAIT_FOR_SERVICES_MAXTIME', 0),
    readytime: num('S6_SERVICES_READYTIME', 50),
    servicesGracetime: num('S6_SERVICES_GRACETIME', 3000),
    killGracetime: kill === undefined || kill === '' ? null : num('S6_KILL_GRACETIME', 3000),
    killFinishMaxtime: num('S6_KILL_FINISH_MAXTIME', 0),
    verbosity: num('S6_VERBOSITY', 2),
    readOnlyRoot: num('S6_READ_ONLY_ROOT', 0) !== 0,
    syncDisks: num('S6_SYNC_DISKS', 0) !== 0,
    cmdArg0: words(env.S6_CMD_ARG0),
    stage2Hook: words(env.S6_STAGE2_HOOK),
    profile: str(env.S6_RUNTIME_PROFILE),
    bundledir: str(env.S6_RUNTIME_BUNDLEDIR),
    warnings,
  };
}

/**
 * The catch-all logger under S6_LOGGING and S6_LOGGING_SCRIPT (s6-overlay's stage0 turns them into
 * s6-linux-init-maker's -B / -1 and -t): whether it writes RUNDIR/uncaught-logs, whether it copies each line to
 * the container's stdout, and the stamps of the log's lines ('t' TAI64N, 'T' ISO 8601, as s6-log's
 * directives). S6_LOGGING 0: no log, the copy only (s6-overlay's -B: everything on the container's stdio);
 * 1: both; 2: the log only. The stamps: those S6_LOGGING_SCRIPT names (`t`, `T`, both or none, as stage0's
 * analyze_logging_script); unset, TAI64N - where s6-overlay's log then has none (its stage0 reads the unset
 * variable as "no t, no T"): a log line without its time is not worth keeping.
 */
export function catchAllPlan(cfg: Pick<OverlayConfig, 'logging' | 'loggingScript'>): { logdir: boolean; copy: boolean; stamps: Array<'t' | 'T'> } {
  const stamps: Array<'t' | 'T'> = cfg.loggingScript === null ? ['t'] : (['t', 'T'] as const).filter((x) => cfg.loggingScript!.includes(x));
  return { logdir: cfg.logging >= 1, copy: cfg.logging < 2, stamps };
}

/** Where vigil's own copies of s6-overlay's service sets and scripts are (the package's share/s6-overlay). */
export const OVERLAY_SHARE = path.join(ROOT, 'share', 's6-overlay');

/** The image looks like an s6-overlay image: /etc/s6-overlay, or /package/admin/s6-overlay* (root = /). */
export function looksLikeOverlay(root = '/'): boolean {
  if (isDir(path.join(root, 'etc', 's6-overlay'))) return true;
  try {
    return fs.readdirSync(path.join(root, 'package', 'admin')).some((n) => n.startsWith('s6-overlay'));
  } catch {
    return false;
  }
}

/** /etc, or /etc/cont-profile.d/PROFILE with S6_RUNTIME_PROFILE: where cont-init.d & co. are read */
export function etcDir(cfg: OverlayConfig, root = '/'): string {
  return cfg.profile ? path.join(root, 'etc', 'cont-profile.d', cfg.profile) : path.join(root, 'etc');
}

export interface OverlaySources {
  /** the source directories, in s6-rc-compile's argv order (rc.init's) */
  sources: string[];
  /** names whose definition may lack `type`: they are bundles (user, user2 shipped without it up to 3.2.3.1) */
  untypedBundles: string[];
}

/**
 * The union rc.init compiles: P/s6-rc.d, then P/user-bundles.d (or S6_RUNTIME_BUNDLEDIR) unless s6-rc.d has
 * its own `user`, then s6-overlay's internal sources (vigil's copy), plus vigil's empty `user` / `user2`
 * bundles when the image defines neither. P = /etc/s6-overlay (or the profile's).
 */
export function overlaySources(cfg: OverlayConfig, root = '/', share = OVERLAY_SHARE, internal = path.join(share, 'sources')): OverlaySources {
  const p = cfg.profile ? path.join(etcDir(cfg, root), 's6-overlay') : path.join(root, 'etc', 's6-overlay');
  const rcd = path.join(p, 's6-rc.d');
  const sources: string[] = [];
  const defined = new Set<string>();
  const add = (dir: string): void => {
    if (!isDir(dir)) return;
    sources.push(dir);
    try {
      for (const n of fs.readdirSync(dir)) if (isDir(path.join(dir, n))) defined.add(n);
    } catch {
      /* the service manager says it, with its own words */
    }
  };
  add(rcd);
  if (!exists(path.join(rcd, 'user'))) add(cfg.bundledir ?? path.join(p, 'user-bundles.d'));
  sources.push(internal);
  for (const b of ['user', 'user2']) if (!defined.has(b)) sources.push(path.join(share, b));
  return { sources, untypedBundles: ['user', 'user2'] };
}

/** s6-overlay's internal sources as the image has them (/package/admin/s6-overlay-VERSION/etc/s6-rc/sources), or null */
export function imageInternalSources(root = '/'): string | null {
  const admin = path.join(root, 'package', 'admin');
  let names: string[];
  try {
    names = fs.readdirSync(admin).filter((n) => n.startsWith('s6-overlay')).sort();
  } catch {
    return null;
  }
  // /package/admin/s6-overlay is a symlink to the versioned directory: prefer it, else the last version
  for (const n of names.includes('s6-overlay') ? ['s6-overlay', ...names] : names.reverse()) {
    const d = path.join(admin, n, 'etc', 's6-rc', 'sources');
    if (isDir(d)) return d;
  }
  return null;
}

const LISTS = ['contents.d', 'dependencies.d'];

/**
 * Images patch s6-overlay's internal sources (hassio's addon-base adds entries to base/contents.d and
 * dependencies.d of fix-attrs and legacy-cont-init; some add whole services there). vigil's own definitions
 * are copied to DEST/sources (their scripts to DEST/scripts, so `up`'s relative paths hold) and every
 * contents.d / dependencies.d entry the image added is added to them; a service vigil does not carry is
 * copied as it is. Returns DEST/sources; `note` gets one line per addition.
 */
export function mergeInternal(share: string, image: string, dest: string, note: (m: string) => void = () => {}): string {
  fs.rmSync(dest, { recursive: true, force: true });
  const ours = path.join(dest, 'sources');
  fs.cpSync(path.join(share, 'sources'), ours, { recursive: true });
  fs.cpSync(path.join(share, 'scripts'), path.join(dest, 'scripts'), { recursive: true });
  for (const name of fs.readdirSync(image).sort()) {
    if (name.startsWith('.') || !isDir(path.join(image, name))) continue;
    const mine = path.join(ours, name);
    if (!exists(mine)) {
      fs.cpSync(path.join(image, name), mine, { recursive: true });
      note(`${image}/${name}: the image's own service among s6-overlay's internal ones, used as it is`);
      continue;
    }
    for (const list of LISTS) {
      let entries: string[];
      try {
        entries = fs.readdirSync(path.join(image, name, list));
      } catch {
        continue;
      }
      for (const e of entries.sort()) {
        if (e.startsWith('.') || exists(path.join(mine, list, e))) continue;
        fs.mkdirSync(path.join(mine, list), { recursive: true });
        fs.writeFileSync(path.join(mine, list, e), '');
        note(`${image}/${name}/${list}/${e}: added by the image, kept`);
      }
    }
  }
  return ours;
}

/** sh single-quoting */
function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * RUNDIR/s6/overlay-settings: the parsed settings as sh assignments, read by vigil's legacy-directory scripts
 * (one parser of S6_*, this file's; the scripts see only PATH under S6_KEEP_ENV=0, as s6-overlay's).
 */
export function settingsText(cfg: OverlayConfig, o: { etc: string; scandir: string; node: string; main: string }): string {
  return [
    '# written by vigil init --s6-overlay at boot: the S6_* settings, parsed, for vigil\'s legacy-directory scripts',
    `s6o_etc=${q(o.etc)}`,
    `s6o_scandir=${q(o.scandir)}`,
    `s6o_verbosity=${cfg.verbosity}`,
    `s6o_behaviour=${cfg.behaviour}`,
    `s6o_wait_for_services=${cfg.waitForServices}`,
    `s6o_wait_maxtime=${cfg.waitMaxtime}`,
    `s6o_readytime=${cfg.readytime}`,
    `s6o_services_gracetime=${cfg.servicesGracetime}`,
    `s6o_kill_finish_maxtime=${cfg.killFinishMaxtime}`,
    `s6o_fix_attrs_hidden=${cfg.fixAttrsHidden ? 1 : 0}`,
    `s6o_vigil() { ${q(o.node)} ${q(o.main)} "$@" ; }`,
    '',
  ].join('\n');
}

/** s6-dumpenv: one file per variable, holding its value (no newline added). */
export function dumpEnv(dir: string, env: NodeJS.ProcessEnv): void {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || k === '' || k.includes('/') || k.startsWith('.')) continue;
    fs.writeFileSync(path.join(dir, k), v, { mode: 0o644 });
  }
}

/** vigil's own s6-overlay commands (with-contenv, printcontenv, s6-rc) and halt/poweroff/reboot, when installed */
export const COMPAT_DIR = path.join(ROOT, 'compat', 's6-overlay');

/**
 * s6-overlay's /init puts /command, /usr/bin and /bin on PATH when they are missing; vigil's own commands
 * (COMPAT_DIR/command, when present) come right after /command, so an image's own s6-overlay commands win.
 */
export function overlayPath(p: string | undefined, compat: string | null = isDir(path.join(COMPAT_DIR, 'command')) ? path.join(COMPAT_DIR, 'command') : null): string {
  const parts = (p ?? '').split(':').filter(Boolean);
  const out = [...['/command', '/usr/bin', '/bin'].filter((d) => !parts.includes(d)), ...parts];
  if (compat && !out.includes(compat)) out.splice(out.indexOf('/command') + 1, 0, compat);
  return out.join(':');
}

/** The paths under RUNDIR that scripts of s6-overlay images use. */
export function overlayPaths(rundir: string): { s6: string; env: string; settings: string; workdir: string } {
  const s6 = path.join(rundir, 's6');
  return { s6, env: containerEnvDir(rundir), settings: path.join(s6, 'overlay-settings'), workdir: path.join(s6, 'workdir') };
}

/**
 * Boot, before anything runs (s6-overlay's preinit and stage0): what a previous boot left is removed, the
 * environment is dumped to RUNDIR/s6/container_environment, the working directory is kept in RUNDIR/s6/workdir,
 * and the exitcode file is preset to 0.
 */
export function prepareOverlayRun(rundir: string, env: NodeJS.ProcessEnv, workdir: string): void {
  const p = overlayPaths(rundir);
  for (const n of ['s6', 'uncaught-logs']) fs.rmSync(path.join(rundir, n), { recursive: true, force: true });
  for (const n of fs.readdirSync(rundir)) if (n.startsWith('s6-rc')) fs.rmSync(path.join(rundir, n), { recursive: true, force: true });
  fs.mkdirSync(p.s6, { recursive: true, mode: 0o755 });
  dumpEnv(p.env, env);
  fs.writeFileSync(p.workdir, workdir + '\n');
  presetExitcode(rundir);
  // RUNDIR/s6/basedir/bin/halt (poweroff, reboot): what finish scripts run to stop the container
  const bin = path.join(COMPAT_DIR, 'basedir', 'bin');
  if (isDir(bin)) {
    fs.mkdirSync(path.join(p.s6, 'basedir'), { recursive: true, mode: 0o755 });
    fs.symlinkSync(bin, path.join(p.s6, 'basedir', 'bin'));
  }
}
