/**
 * A Dockerfile, built and run without a Docker engine: each instruction of the file is carried out in order on an
 * overlay file system (the base image's layers from test/pkg/cache.sh as lower dirs, one upper dir for the build,
 * as Docker's overlay2 driver stacks layers), RUN steps under runc with a writable root and no network, and the
 * result runs under runc with a read-only root (all layers as lower dirs), ENTRYPOINT + CMD, WORKDIR as cwd, the
 * image's ENV. Overlays are mounted in a private mount namespace (unshare) that ends with the process it was
 * made for, so nothing stays mounted after a test.
 *
 * Supported: FROM node:N-slim (the only base: cache.sh node-layer N over cache.sh debian), COPY (files, dirs,
 * a glob in the last path element; Docker's rules: a dir's contents are copied, dst relative to WORKDIR,
 * everything root-owned), RUN (shell form), WORKDIR, ENV k=v, ENTRYPOINT/CMD (exec form), USER, LABEL, EXPOSE.
 * Anything else is an error, so the Dockerfile cannot drift from what is tested.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Bundle, RunHandle, bundleHandle, runForeground } from '../runc/bundle';

export const REPO = path.resolve(__dirname, '..', '..', '..');
const CACHE_SH = path.join(REPO, 'test', 'pkg', 'cache.sh');

export interface Instruction { op: string; args: string; line: number }

export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let l = lines[i];
    const line = i + 1;
    if (/^\s*(#|$)/.test(l)) continue;
    while (l.endsWith('\\') && i + 1 < lines.length) l = `${l.slice(0, -1)} ${lines[++i].trim()}`;
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(l);
    if (!m) throw new Error(`Dockerfile:${line}: cannot parse "${l}"`);
    out.push({ op: m[1].toUpperCase(), args: m[2].trim(), line });
  }
  return out;
}

export interface Image {
  /** lower dirs, top layer first (as overlayfs's lowerdir= wants them) */
  layers: string[];
  env: string[];
  workdir: string;
  entrypoint: string[];
  cmd: string[];
  user: string;
  /** what each step printed (RUN output), for diagnostics */
  log: string[];
}

const cacheSh = (...args: string[]) => execFileSync('bash', [CACHE_SH, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 1_800_000 }).trim();

/** Debian bookworm minbase (node:N-slim's bottom layer, no node): a lower dir from test/pkg/cache.sh's cache. */
export function debianLayer(): string {
  return cacheSh('debian');
}

/** The base images this harness knows. */
function from(ref: string): Image {
  const m = /^node:(\d+)-slim$/.exec(ref);
  if (!m) throw new Error(`FROM ${ref}: only node:N-slim is supported here`);
  const debian = debianLayer();
  const node = cacheSh('node-layer', m[1]);
  const nodeVersion = execFileSync(path.join(node, 'usr', 'local', 'bin', 'node'), ['--version'], { encoding: 'utf8' }).trim().slice(1);
  return {
    layers: [node, debian],
    // what the node:N-slim image sets
    env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', `NODE_VERSION=${nodeVersion}`],
    workdir: '/',
    entrypoint: [],
    cmd: ['node'],
    user: '0',
    log: [],
  };
}

/** Run `argv` in a private mount namespace in which `merged` is an overlay of lowers (+ upper, if given). */
export function overlayArgs(lowers: string[], merged: string, argv: string[], upper?: { upper: string; work: string }): string[] {
  const opts = `lowerdir=${lowers.join(':')}${upper ? `,upperdir=${upper.upper},workdir=${upper.work}` : ''}`;
  for (const p of [...lowers, merged]) if (/[:,]/.test(p)) throw new Error(`overlay: ${p} contains : or ,`);
  return ['--mount', '--propagation', 'private', '--', 'sh', '-ec', 'mount -t overlay overlay -o "$1" "$2"; shift 2; exec "$@"', 'sh', opts, merged, ...argv];
}

export interface RuncSpec {
  rootfs: string;
  readonly: boolean;
  args: string[];
  env: string[];
  cwd: string;
  uid?: number;
  gid?: number;
  /** tmpfs mounts (docker run --tmpfs / a k8s emptyDir), owned by uid */
  tmpfs?: string[];
  /** read-only bind mounts: host path → container path */
  binds?: Record<string, string>;
  /** read-write binds: host path → container path (a dir a test reads what happened from) */
  rwBinds?: Record<string, string>;
}

let seq = 0;

/** A runc bundle whose root is `rootfs` (an overlay mounted later, by the command that runs runc). */
export function imageBundle(s: RuncSpec): Bundle {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-image-'));
  const state = path.join(dir, 'state');
  const out = path.join(dir, 'out');
  fs.mkdirSync(state);
  fs.mkdirSync(out);
  execFileSync('runc', ['spec', '--bundle', dir]);
  const spec = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  const uid = s.uid ?? 0;
  const gid = s.gid ?? uid;
  for (const t of s.tmpfs ?? []) {
    spec.mounts.push({ destination: t, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', `mode=${t === '/tmp' ? '1777' : '0755'}`, `uid=${uid}`, `gid=${gid}`, 'size=65536k'] });
  }
  for (const [src, dst] of Object.entries(s.binds ?? {})) {
    spec.mounts.push({ destination: dst, type: 'bind', source: src, options: ['rbind', 'ro', 'nosuid', 'nodev'] });
  }
  for (const [src, dst] of Object.entries(s.rwBinds ?? {})) {
    spec.mounts.push({ destination: dst, type: 'bind', source: src, options: ['rbind', 'rw', 'nosuid', 'nodev'] });
  }
  spec.root = { path: s.rootfs, readonly: s.readonly };
  spec.hostname = 'vigil-image';
  Object.assign(spec.process, { terminal: false, args: s.args, env: s.env, cwd: s.cwd, user: { uid, gid } });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec, null, 2));
  return bundleHandle(dir, out, state, `vigil-image-${process.pid}-${++seq}`);
}

/** `runc run` in the foreground inside the overlay's mount namespace. */
export function runImageForeground(b: Bundle, lowers: string[], merged: string, upper?: { upper: string; work: string }): RunHandle {
  return runForeground(b, ['unshare', ...overlayArgs(lowers, merged, [], upper)]);
}

function resolveIn(workdir: string, p: string): string {
  return path.posix.resolve(workdir, p);
}

function jsonArray(args: string, what: string): string[] {
  const v = JSON.parse(args);
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error(`${what} must be an exec-form JSON array`);
  return v;
}

/**
 * Build `dockerfile` with `context` as the build context into `buildDir` (upper/ and work/ made there).
 * Returns the image; its layers are [buildDir/upper, ...base layers].
 */
export async function build(dockerfile: string, context: string, buildDir: string, timeoutMs = 600_000): Promise<Image> {
  let img: Image | undefined;
  const upper = { upper: path.join(buildDir, 'upper'), work: path.join(buildDir, 'work') };
  const merged = path.join(buildDir, 'merged');
  for (const d of [upper.upper, upper.work, merged]) fs.mkdirSync(d, { recursive: true });
  fs.chmodSync(upper.upper, 0o755);
  const inOverlay = (argv: string[]) => {
    if (!img) throw new Error('FROM first');
    execFileSync('unshare', overlayArgs(img.layers, merged, argv, upper), { stdio: ['ignore', 'pipe', 'pipe'] });
  };
  for (const ins of parseDockerfile(fs.readFileSync(dockerfile, 'utf8'))) {
    const where = `${path.basename(dockerfile)}:${ins.line}: ${ins.op}`;
    if (ins.op === 'FROM') {
      img = from(ins.args);
      continue;
    }
    if (!img) throw new Error(`${where}: before FROM`);
    switch (ins.op) {
      case 'COPY': {
        const parts = ins.args.split(/\s+/);
        if (parts.some((p) => p.startsWith('--'))) throw new Error(`${where}: flags are not supported`);
        const dst = resolveIn(img.workdir, parts.pop()!);
        const srcs: string[] = [];
        for (const s of parts) {
          const dir = path.join(context, path.dirname(s));
          const base = path.basename(s);
          const re = new RegExp(`^${base.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
          const hits = fs.readdirSync(dir).filter((n) => re.test(n)).map((n) => path.join(dir, n));
          if (hits.length === 0) throw new Error(`${where}: ${s} matches nothing in ${context}`);
          srcs.push(...hits);
        }
        const target = path.join(merged, dst);
        // Docker: a directory's contents are copied; several sources or a trailing / make dst a directory
        const script = ['set -e'];
        const intoDir = dst.endsWith('/') || srcs.length > 1 || srcs.some((s) => fs.statSync(s).isDirectory());
        script.push(intoDir ? `mkdir -p "${target}"` : `mkdir -p "$(dirname "${target}")"`);
        for (const s of srcs) {
          if (fs.statSync(s).isDirectory()) script.push(`cp -a "${s}/." "${target}/"`, `(cd "${s}" && find . -mindepth 1) | while read -r f; do chown -h 0:0 "${target}/$f"; done`);
          else script.push(`cp -a "${s}" "${target}"`, `chown -h 0:0 "${intoDir ? path.join(target, path.basename(s)) : target}"`);
        }
        inOverlay(['sh', '-c', script.join('\n')]);
        break;
      }
      case 'RUN': {
        if (ins.args.startsWith('[')) throw new Error(`${where}: exec form is not supported`);
        const b = imageBundle({ rootfs: merged, readonly: false, args: ['/bin/sh', '-c', ins.args], env: img.env, cwd: img.workdir, uid: Number(img.user) });
        try {
          const h = runImageForeground(b, img.layers, merged, upper);
          const timer = setTimeout(() => { try { execFileSync('runc', ['--root', b.state, 'kill', b.id, 'KILL'], { stdio: 'ignore' }); } catch { /* gone */ } }, timeoutMs);
          const code = await h.exited;
          clearTimeout(timer);
          img.log.push(`${where}\n${h.stdout()}${h.stderr()}`);
          if (code !== 0) throw new Error(`${where} ${ins.args}: exit ${code}\n${h.stdout()}\n${h.stderr()}`);
        } finally {
          b.cleanup();
        }
        break;
      }
      case 'WORKDIR':
        img.workdir = resolveIn(img.workdir, ins.args);
        inOverlay(['mkdir', '-p', path.join(merged, img.workdir)]);
        break;
      case 'ENV': {
        const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(ins.args);
        if (!m) throw new Error(`${where}: only ENV NAME=value`);
        img.env = [...img.env.filter((e) => !e.startsWith(`${m[1]}=`)), `${m[1]}=${m[2]}`];
        break;
      }
      case 'ENTRYPOINT':
        img.entrypoint = jsonArray(ins.args, where);
        img.cmd = []; // Docker resets CMD when ENTRYPOINT is set
        break;
      case 'CMD':
        img.cmd = jsonArray(ins.args, where);
        break;
      case 'USER':
        if (!/^\d+$/.test(ins.args)) throw new Error(`${where}: numeric USER only here`);
        img.user = ins.args;
        break;
      case 'LABEL':
      case 'EXPOSE':
        break;
      default:
        throw new Error(`${where}: not supported by this harness`);
    }
  }
  if (!img) throw new Error(`${dockerfile}: no FROM`);
  img.layers = [upper.upper, ...img.layers];
  fs.rmSync(upper.work, { recursive: true, force: true });
  return img;
}
