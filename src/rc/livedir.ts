/**
 * The live directory (s6-rc's layout where scripts depend on it, s6-rc-and-s6-overlay.md §A4):
 *
 *   LIVE/                      RUNDIR/s6-rc (vigil init: /run/s6-rc, as s6-overlay has it)
 *   LIVE/servicedirs/NAME/     each longrun's real service directory, built from its source definition: run
 *                              and finish (0755), notification-fd, lock-fd, timeout-kill, timeout-finish,
 *                              max-death-tally ("N\n"), down-signal, data/, env/, template/ (copied; symlinks
 *                              kept as symlinks), vigil's log-dir/log-script; plus `down` while the service
 *                              manager wants it down (so the scanner never starts it on its own). It is the
 *                              run script's cwd, as under s6-rc (linuxserver's with-contenv tests for it).
 *   LIVE/scandir               a symlink to the scan directory
 *   LIVE/rc.sock               the control socket (control.ts)
 *   SCANDIR/NAME               a symlink to LIVE/servicedirs/NAME: s6-svstat, s6-svc and every vigil client work
 *
 * supervise/ and event/ inside a service directory belong to its supervision and are never touched here, so a
 * reload rewrites an edited longrun's files in place and its supervision goes on.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Definition } from './source';

const UINT_FILES: Array<[keyof NonNullable<Definition['longrun']>, string]> = [
  ['notificationFd', 'notification-fd'],
  ['lockFd', 'lock-fd'],
  ['timeoutKill', 'timeout-kill'],
  ['timeoutFinish', 'timeout-finish'],
  ['maxDeathTally', 'max-death-tally'],
];

/** write a file atomically (tmp + rename), with a mode */
function put(p: string, data: Buffer | string, mode: number): void {
  const tmp = `${p}.vigil-new`;
  fs.writeFileSync(tmp, data, { mode });
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, p);
}

function rmQuiet(p: string): void {
  fs.rmSync(p, { recursive: true, force: true });
}

/** copy a tree: directories, regular files (mode kept), symlinks as symlinks; anything else skipped */
function copyTree(src: string, dst: string): void {
  fs.mkdirSync(dst, { recursive: true });
  fs.chmodSync(dst, fs.statSync(src).mode & 0o7777);
  for (const name of fs.readdirSync(src)) {
    const s = path.join(src, name);
    const d = path.join(dst, name);
    const st = fs.lstatSync(s);
    if (st.isDirectory()) copyTree(s, d);
    else if (st.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(s), d);
    else if (st.isFile()) {
      fs.copyFileSync(s, d);
      fs.chmodSync(d, st.mode & 0o7777);
    }
  }
}

/**
 * Build or update LIVE/servicedirs/NAME from a longrun's definition. `down`: create the down file if the
 * directory is new (the service starts down). Files the definition no longer has are removed.
 */
export function buildServicedir(servicedirs: string, def: Definition): string {
  const lr = def.longrun!;
  const dst = path.join(servicedirs, def.name);
  let fresh = false;
  try {
    fs.mkdirSync(dst, 0o755);
    fresh = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  if (fresh) fs.writeFileSync(path.join(dst, 'down'), '');
  put(path.join(dst, 'run'), fs.readFileSync(path.join(def.dir, 'run')), 0o755);
  if (lr.finish) put(path.join(dst, 'finish'), fs.readFileSync(path.join(def.dir, 'finish')), 0o755);
  else rmQuiet(path.join(dst, 'finish'));
  for (const [key, file] of UINT_FILES) {
    const v = lr[key] as number | undefined;
    if (v === undefined) rmQuiet(path.join(dst, file));
    else put(path.join(dst, file), `${v}\n`, 0o644);
  }
  if (lr.downSignal) put(path.join(dst, 'down-signal'), lr.downSignal, 0o644);
  else rmQuiet(path.join(dst, 'down-signal'));
  for (const extra of ['log-dir', 'log-script']) {
    if (lr.extras.includes(extra)) put(path.join(dst, extra), fs.readFileSync(path.join(def.dir, extra)), 0o644);
    else rmQuiet(path.join(dst, extra));
  }
  for (const tree of ['data', 'env', 'template']) {
    rmQuiet(path.join(dst, tree));
    if (lr.trees.includes(tree)) copyTree(path.join(def.dir, tree), path.join(dst, tree));
  }
  if (lr.trees.includes('template')) {
    fs.mkdirSync(path.join(dst, 'instance'), { recursive: true });
    fs.mkdirSync(path.join(dst, 'instances'), { recursive: true });
  }
  return dst;
}

/** `down` present = the scanner leaves the service down when its supervision starts */
export function setDownFile(servicedirs: string, name: string, down: boolean): void {
  const p = path.join(servicedirs, name, 'down');
  if (down) fs.closeSync(fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o644));
  else rmQuiet(p);
}

export type LinkResult = 'ok' | 'conflict';

/**
 * SCANDIR/NAME → LIVE/servicedirs/NAME. An existing symlink into the servicedirs is replaced; anything else
 * there (a plain service directory of the same name) is a conflict and is left alone.
 */
export function linkService(scandir: string, servicedirs: string, name: string): LinkResult {
  const link = path.join(scandir, name);
  const target = path.join(servicedirs, name);
  let cur: string | null = null;
  try {
    cur = fs.readlinkSync(link);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EINVAL') return 'conflict'; // not a symlink
    if (code !== 'ENOENT') throw e;
  }
  if (cur === target) return 'ok';
  if (cur !== null && !path.resolve(scandir, cur).startsWith(servicedirs + path.sep)) return 'conflict';
  const tmp = path.join(scandir, `.${name}.vigil-rc`);
  rmQuiet(tmp);
  fs.symlinkSync(target, tmp);
  fs.renameSync(tmp, link);
  return 'ok';
}

/** remove SCANDIR/NAME if it is our symlink */
export function unlinkService(scandir: string, servicedirs: string, name: string): void {
  const link = path.join(scandir, name);
  try {
    const cur = fs.readlinkSync(link);
    if (path.resolve(scandir, cur).startsWith(servicedirs + path.sep)) fs.unlinkSync(link);
  } catch {
    /* not ours, or gone */
  }
}

export function removeServicedir(servicedirs: string, name: string): void {
  rmQuiet(path.join(servicedirs, name));
}

/** names under LIVE/servicedirs (what a previous run left) */
export function listServicedirs(servicedirs: string): string[] {
  try {
    return fs.readdirSync(servicedirs).filter((n) => !n.startsWith('.'));
  } catch {
    return [];
  }
}

/** LIVE and LIVE/servicedirs, and LIVE/scandir → the scan directory */
export function makeLive(live: string, scandir: string): void {
  fs.mkdirSync(path.join(live, 'servicedirs'), { recursive: true, mode: 0o755 });
  const link = path.join(live, 'scandir');
  try {
    if (fs.readlinkSync(link) === scandir) return;
    fs.unlinkSync(link);
  } catch {
    /* none */
  }
  fs.symlinkSync(scandir, link);
}
