/**
 * OCI bundle generator and runner for the runc tests (test/runc/*.test.ts) and the container bench.
 *
 * The bundle's root is an empty directory (read-only root) in which the host's /usr and /etc are bound
 * read-only, /bin /lib /lib64 /sbin reproduced (symlinks on a merged-/usr host, read-only binds otherwise),
 * the project bound read-only at /vigil, a writable tmpfs on /run and /tmp (owned by the process
 * user, so any UID works), a basedir bound read-only at /vigil-basedir and a host temp dir bound read-write
 * at /out (how a test sees what happened inside). The rest is `runc spec`'s default (no CAP_SYS_ADMIN,
 * no_new_privs, fresh pid/mount/ipc/uts/network namespaces), process.terminal false.
 *
 * `runc run ID` in the foreground returns the container's exit code (128+N for a signal): the tests spawn it
 * with stdio pipes and send `runc kill ID SIG` from another call.
 */
import { execFileSync, spawn, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const REPO = path.resolve(__dirname, '..', '..', '..');
export const NODE = fs.realpathSync(process.execPath);
/** where the project is bound inside the container (a fixed path: the host path's parents may be private) */
export const CREPO = '/vigil';

export interface BundleOptions {
  /** process.args (absolute program path first) */
  args: string[];
  uid?: number;
  gid?: number;
  /** host dir bound read-only at /vigil-basedir */
  basedir?: string;
  env?: string[];
  readonlyRoot?: boolean;
  /** process.cwd, the image's WORKDIR (default /) */
  cwd?: string;
  /** process.terminal: runc gives the container a pty (run it with a terminal on its own stdio) */
  terminal?: boolean;
}

export interface Bundle {
  dir: string;
  /** host side of the container's /out */
  out: string;
  /** runc --root (container state), private to this bundle */
  state: string;
  id: string;
  cleanup(): void;
}

let seq = 0;

/** The container args that run `vigil init --container` with CMD. */
export function initArgs(cmd: string[] | null, extra: string[] = []): string[] {
  return [NODE, path.join(CREPO, 'bin', 'vigil'), 'init', '--container', '--basedir', '/vigil-basedir', ...extra, ...(cmd ? ['--', ...cmd] : [])];
}

export function makeBundle(o: BundleOptions): Bundle {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-runc-'));
  const rootfs = path.join(dir, 'rootfs');
  const out = path.join(dir, 'out');
  const state = path.join(dir, 'state');
  fs.mkdirSync(rootfs);
  fs.mkdirSync(out);
  fs.mkdirSync(state);
  fs.chmodSync(dir, 0o755);
  fs.chmodSync(out, 0o777);
  execFileSync('runc', ['spec', '--bundle', dir]);
  const spec = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  const uid = o.uid ?? 0;
  const gid = o.gid ?? uid;
  const ro = (src: string, dst = src) => ({ destination: dst, type: 'bind', source: src, options: ['rbind', 'ro', 'nosuid', 'nodev'] });
  const mounts: unknown[] = spec.mounts;
  // the tmpfs mounts first, so that a project checked out under /tmp or /run is bound on top of them
  const tmpfs = (dst: string, mode: string) => ({
    destination: dst, type: 'tmpfs', source: 'tmpfs',
    options: ['nosuid', 'nodev', `mode=${mode}`, `uid=${uid}`, `gid=${gid}`, 'size=65536k'],
  });
  mounts.push(tmpfs('/run', '0755'), tmpfs('/tmp', '1777'));
  for (const top of ['usr', 'etc', 'bin', 'sbin', 'lib', 'lib64']) {
    const host = `/${top}`;
    let st: fs.Stats;
    try { st = fs.lstatSync(host); } catch { continue; }
    if (st.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(host), path.join(rootfs, top));
    else mounts.push(ro(host));
  }
  // the project (bin/vigil, dist/, the shim) at /vigil; node itself comes with /usr
  mounts.push(ro(REPO, CREPO));
  if (!NODE.startsWith('/usr/')) mounts.push(ro(path.dirname(NODE)));
  if (o.basedir) mounts.push(ro(o.basedir, '/vigil-basedir'));
  mounts.push({ destination: '/out', type: 'bind', source: out, options: ['rbind', 'rw', 'nosuid', 'nodev'] });
  spec.mounts = mounts;
  spec.root = { path: 'rootfs', readonly: o.readonlyRoot ?? true };
  spec.hostname = 'vigil-test';
  spec.process.terminal = o.terminal ?? false;
  spec.process.args = o.args;
  spec.process.user = { uid, gid };
  spec.process.cwd = o.cwd ?? '/';
  spec.process.env = o.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/tmp'];
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec, null, 2));
  return bundleHandle(dir, out, state, `vigil-test-${process.pid}-${++seq}`);
}

/** The Bundle for a bundle dir: cleanup() deletes the container (if runc still knows it) and the dir. */
export function bundleHandle(dir: string, out: string, state: string, id: string): Bundle {
  return {
    dir, out, state, id,
    cleanup() {
      try { execFileSync('runc', ['--root', state, 'delete', '-f', id], { stdio: 'ignore' }); } catch { /* not there */ }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RunHandle {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** resolves with runc's exit code (the container's), or 128+N if runc itself died of signal N */
  exited: Promise<number>;
}

/** `runc run ID` in the foreground, stdio on pipes; `prefix` is a command that execs its arguments (unshare ...). */
export function runForeground(b: Bundle, prefix: string[] = []): RunHandle {
  const argv = [...prefix, 'runc', '--root', b.state, 'run', '--bundle', b.dir, b.id];
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number>((resolve) => {
    child.on('error', (e) => { err += `spawn ${argv[0]}: ${e.message}\n`; });
    child.on('close', (code, sig) => resolve(code ?? 128 + (sig ? os.constants.signals[sig] : 0)));
  });
  return { child, stdout: () => out, stderr: () => err, exited };
}

export function runcKill(b: Bundle, sig: string): void {
  execFileSync('runc', ['--root', b.state, 'kill', b.id, sig], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Resolve when `cond()` is true; reject with `what` after `ms`. Polls a file the container writes. */
export async function waitFor(cond: () => boolean, ms: number, what: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Resolve with the exit code, or reject (and SIGKILL runc's container) after ms. */
export async function exitWithin(b: Bundle, h: RunHandle, ms: number): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      try { runcKill(b, 'KILL'); } catch { /* gone */ }
      reject(new Error(`container ${b.id} still running after ${ms} ms\n--- stdout ---\n${h.stdout()}\n--- stderr ---\n${h.stderr()}`));
    }, ms);
  });
  try {
    return await Promise.race([h.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Write a basedir (rc.init + services) under a temp dir; returns its path. */
export function makeBasedir(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-basedir-'));
  fs.chmodSync(dir, 0o755);
  for (const [rel, text] of Object.entries(files)) {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text, { mode: rel.endsWith('/run') || rel.startsWith('rc.') || rel.endsWith('/finish') ? 0o755 : 0o644 });
  }
  // every directory readable by any uid
  execFileSync('chmod', ['-R', 'a+rX', dir]);
  return dir;
}
