/**
 * Shared test helpers (reusable): write s6-rc source trees from a compact spec.
 *
 *   const src = rcTree({
 *     'mount/type': 'oneshot\n', 'mount/up': 'mkdir -p /tmp/x\n',
 *     'web/type': 'longrun\n', 'web/run': '#!/bin/sh\nexec sleep 100\n', 'web/dependencies.d/mount': '',
 *     'default/type': 'bundle\n', 'default/contents.d/web': '',
 *     'loop': { symlink: 'loop' },
 *   });
 *
 * Values: a string or Buffer is a file (run/finish/up/down made executable), `{ symlink }` a symlink,
 * `{ dir: true }` an empty directory, `{ fifo: true }` a fifo. Returns the tree's path (a fresh mkdtemp).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { native } from '../../src/sys/native';

export type TreeEntry = string | Buffer | { symlink: string } | { dir: true } | { fifo: true };

export function rcTree(spec: Record<string, TreeEntry>, root?: string): string {
  const dir = root ?? fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-rcsrc-'));
  writeTree(dir, spec);
  return dir;
}

export function writeTree(dir: string, spec: Record<string, TreeEntry>): void {
  for (const [rel, v] of Object.entries(spec)) {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (typeof v === 'string' || Buffer.isBuffer(v)) {
      fs.rmSync(p, { force: true });
      fs.writeFileSync(p, v);
      if (/(^|\/)(run|finish|up|down)$/.test(rel)) fs.chmodSync(p, 0o755);
    } else if ('symlink' in v) {
      fs.rmSync(p, { force: true });
      fs.symlinkSync(v.symlink, p);
    } else if ('dir' in v) {
      fs.mkdirSync(p, { recursive: true });
    } else {
      native().mkfifo(p, 0o644);
    }
  }
}

/** A longrun that runs `cmd` under sh (exec'd), optionally with extra files. */
export function longrun(name: string, cmd: string, extra: Record<string, TreeEntry> = {}): Record<string, TreeEntry> {
  const out: Record<string, TreeEntry> = { [`${name}/type`]: 'longrun\n', [`${name}/run`]: `#!/bin/sh\nexec ${cmd}\n` };
  for (const [k, v] of Object.entries(extra)) out[`${name}/${k}`] = v;
  return out;
}

/** A oneshot whose up (and down) are the given execline texts, optionally with dependencies. */
export function oneshot(name: string, up: string, opts: { down?: string; deps?: string[] } = {}): Record<string, TreeEntry> {
  const out: Record<string, TreeEntry> = { [`${name}/type`]: 'oneshot\n', [`${name}/up`]: up };
  if (opts.down !== undefined) out[`${name}/down`] = opts.down;
  for (const d of opts.deps ?? []) out[`${name}/dependencies.d/${d}`] = '';
  return out;
}

export function bundle(name: string, contents: string[]): Record<string, TreeEntry> {
  const out: Record<string, TreeEntry> = { [`${name}/type`]: 'bundle\n' };
  if (!contents.length) out[`${name}/contents.d`] = { dir: true };
  for (const c of contents) out[`${name}/contents.d/${c}`] = '';
  return out;
}

export function deps(name: string, names: string[]): Record<string, TreeEntry> {
  const out: Record<string, TreeEntry> = {};
  for (const d of names) out[`${name}/dependencies.d/${d}`] = '';
  return out;
}

// ---------------------------------------------------------------------------------------- a running tree

import { execFile } from 'node:child_process';
import { Bg, startVigilSvscan, VIGIL } from './svscan';
import { waitFor } from './wait';

export interface RcTree {
  /** RUNDIR: service/ (the scan directory) and s6-rc/ (the live directory) */
  rundir: string;
  scandir: string;
  live: string;
  src: string;
  bg: Bg;
  /** `vigil rc ARGS` against this tree (VIGIL_RUNDIR set), with a deadline */
  rc(args: string[], ms?: number, env?: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }>;
  stop(): void;
}

/** `vigil svscan --rc SRC RUNDIR/service` over a fresh RUNDIR, once its control socket exists. */
export async function startRcTree(src: string, extra: string[] = [], env?: NodeJS.ProcessEnv): Promise<RcTree> {
  const rundir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-rcrun-'));
  const scandir = path.join(rundir, 'service');
  fs.mkdirSync(scandir);
  const bg = await startVigilSvscan(scandir, ['--rc', src, ...extra], { env });
  const live = path.join(rundir, 's6-rc');
  const sock = path.join(live, 'rc.sock');
  await waitFor(() => fs.existsSync(sock), 10000, `the rc control socket ${sock}`, 10);
  const rc = (args: string[], ms = 30000, e?: NodeJS.ProcessEnv) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [VIGIL, 'rc', ...args], { timeout: ms, killSignal: 'SIGKILL', env: { ...process.env, VIGIL_RUNDIR: rundir, ...e }, maxBuffer: 16 << 20 },
        (err, stdout, stderr) => {
          const x = err as (Error & { code?: number | string }) | null;
          resolve({ code: x ? (typeof x.code === 'number' ? x.code : null) : 0, stdout: String(stdout), stderr: String(stderr) });
        });
    });
  return {
    rundir, scandir, live, src, bg, rc,
    stop() {
      bg.kill();
      fs.rmSync(rundir, { recursive: true, force: true });
    },
  };
}
