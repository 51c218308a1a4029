/**
 * QEMU (TCG) boot of Debian's cloud kernel with an initramfs whose /init is `vigil init --machine`
 * (test/boot/build-initramfs.sh, test/boot/guest/). Shared by test/boot/qemu.test.ts, `npm run test:boot`
 * (this file run directly: boots once, prints the serial log, exits 0/1) and bench/boot.ts.
 *
 * QEMU exits 0 both on poweroff and on a kernel panic (panic=-1 + -no-reboot), so the verdict comes only from
 * markers on the serial console: the guest's rc.init (test/boot/guest/basedir/rc.init) checks the stage-1
 * mounts, the fifo trick and the web service itself and writes "VIGIL-BOOT: ..." lines to /dev/console.
 *
 * Env: VIGIL_BOOT_CACHE (kernel + stripped node cache,
 * default /var/cache/vigil-test), VIGIL_BOOT_TIMEOUT_MS (default 120000).
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export const REPO = path.resolve(__dirname, '..', '..', '..');
const SCRIPTS = path.join(REPO, 'test', 'boot');

/** The markers a good boot prints, in order ("end" is the kernel's last line, per action). */
export const MARKERS = [
  ['stage2', 'VIGIL-BOOT: stage2 started'],
  ['mounts', 'VIGIL-BOOT: mounts ok'],
  ['fifo', 'VIGIL-BOOT: fifo ok'],
  ['service', 'VIGIL-BOOT: service answered'],
  ['supervised', 'VIGIL-BOOT: web supervised: up'],
  ['rc', 'VIGIL-BOOT: rc.d up: data-user data-mount'],
  ['stage2done', 'VIGIL-BOOT: stage2 done'],
  ['rcdown', 'VIGIL-BOOT: rc.d down: /mnt/data unmounted'],
  ['shutdown', 'VIGIL-BOOT: rc.shutdown ran'],
  ['end', 'reboot: Power down'],
] as const;
export type MarkerName = (typeof MARKERS)[number][0];

const FATAL = ['Kernel panic', 'VIGIL-BOOT: FAIL', 'Failed to execute /init'];

/**
 * How the boot ends (passed on the kernel command line as vigil_test_action=): stage 2 runs `vigil poweroff`
 * or `vigil reboot`, or (cad) stage 2 just exits and the test presses ctrl-alt-del on the emulated PS/2
 * keyboard through QEMU's monitor: with RB_DISABLE_CAD the kernel sends SIGINT to PID 1, which reboots.
 */
export type Action = 'poweroff' | 'reboot' | 'cad';
const END_LINE: Record<Action, string> = { poweroff: 'reboot: Power down', reboot: 'reboot: Restarting system', cad: 'reboot: Restarting system' };
const CAD_PROMPT = 'VIGIL-BOOT: waiting for ctrl-alt-del';
function markersFor(action: Action): Array<[MarkerName, string]> {
  return MARKERS.map(([n, text]) => [n, n === 'end' ? END_LINE[action] : text]);
}

export interface Prepared { kernel: string; initrd: string; workdir: string; cleanup(): void }

/** Fetch (cached) the kernel and build a fresh initramfs in a temp dir. Throws with the scripts' stderr. */
export function prepareBoot(): Prepared {
  const env = process.env;
  const kernel = execFileSync(path.join(SCRIPTS, 'fetch-kernel.sh'), { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  const workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-qemu-'));
  const initrd = path.join(workdir, 'initramfs.cpio');
  execFileSync(path.join(SCRIPTS, 'build-initramfs.sh'), [initrd], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  return { kernel, initrd, workdir, cleanup: () => fs.rmSync(workdir, { recursive: true, force: true }) };
}

export interface BootResult {
  action: Action;
  serial: string;
  /** ms after QEMU was spawned at which each marker was first seen */
  at: Partial<Record<MarkerName, number>>;
  /** guest uptime (s) printed with "stage2 done" */
  guestStage2DoneUptime?: number;
  wallMs: number;
  exitCode: number | null;
  timedOut: boolean;
  /** empty when the boot is good */
  problems: string[];
}

/** Kill hook for callers' t.after: the running QEMU, if any. */
const running = new Set<import('node:child_process').ChildProcess>();
export function killAll(): void {
  for (const c of running) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
}

export function bootQemu(p: { kernel: string; initrd: string }, timeoutMs = Number(process.env.VIGIL_BOOT_TIMEOUT_MS || 120000), action: Action = 'poweroff'): Promise<BootResult> {
  const markers = markersFor(action);
  const args = [
    '-accel', 'tcg', '-smp', '1', '-m', '1024', '-nographic', '-no-reboot',
    '-kernel', p.kernel, '-initrd', p.initrd,
    // init= too: if rdinit=/init cannot run, the kernel panics instead of trying /bin/sh
    '-append', `console=ttyS0 rdinit=/init init=/init panic=-1 quiet vigil_test_action=${action}`,
  ];
  const monitor = action === 'cad' ? path.join(path.dirname(p.initrd), `monitor-${process.pid}-${Date.now()}.sock`) : '';
  if (monitor) args.push('-monitor', `unix:${monitor},server=on,wait=off`);
  let cadSent = false;
  const t0 = Date.now();
  const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let serial = '';
  const at: BootResult['at'] = {};
  let timedOut = false;
  let fatalSeen = false;
  const onData = (d: Buffer): void => {
    serial += d.toString('latin1');
    for (const [name, text] of markers) if (at[name] === undefined && serial.includes(text)) at[name] = Date.now() - t0;
    if (monitor && !cadSent && serial.includes(CAD_PROMPT)) {
      cadSent = true;
      const sock = net.createConnection(monitor, () => sock.end('sendkey ctrl-alt-delete\n'));
      sock.on('error', (e) => { serial += `\n[test: QEMU monitor: ${e.message}]\n`; });
      sock.resume();
    }
    if (!fatalSeen && FATAL.some((f) => serial.includes(f))) {
      fatalSeen = true;
      // a panic reboots and -no-reboot ends QEMU; give it 10 s to print the trace, then stop it
      setTimeout(() => child.kill('SIGKILL'), 10000).unref();
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
  return new Promise((resolve) => {
    child.on('error', (e) => { serial += `\n[qemu spawn error: ${e.message}]\n`; });
    child.on('close', (code) => {
      clearTimeout(timer);
      running.delete(child);
      const r: BootResult = { action, serial, at, wallMs: Date.now() - t0, exitCode: code, timedOut, problems: [] };
      const m = /VIGIL-BOOT: stage2 done uptime=([0-9.]+)/.exec(serial);
      if (m) r.guestStage2DoneUptime = Number(m[1]);
      r.problems = judge(r, timeoutMs);
      resolve(r);
    });
  });
}

export function judge(r: BootResult, timeoutMs: number): string[] {
  const problems: string[] = [];
  for (const f of FATAL) {
    const i = r.serial.indexOf(f);
    if (i < 0) continue;
    const end = r.serial.indexOf('\n', i);
    problems.push(`serial console shows "${cleanSerial(r.serial.slice(i, end < 0 ? undefined : end)).trim()}"`);
  }
  if (r.timedOut) problems.push(`QEMU did not exit within ${timeoutMs} ms (killed)`);
  if (r.action === 'cad' && !r.serial.includes(CAD_PROMPT)) problems.push(`stage 2 never said "${CAD_PROMPT}": ctrl-alt-del not pressed`);
  if (r.action !== 'poweroff' && r.serial.includes('reboot: Power down')) problems.push('asked to reboot, the kernel powered off');
  let last = -1;
  for (const [name, text] of markersFor(r.action)) {
    const t = r.at[name];
    if (t === undefined) problems.push(`marker missing: "${text}"`);
    else if (r.serial.indexOf(text) < last) problems.push(`marker out of order: "${text}"`);
    else last = r.serial.indexOf(text);
  }
  if (r.exitCode !== 0 && !r.timedOut) problems.push(`QEMU exited with ${r.exitCode}`);
  return problems;
}

/** The serial log without the firmware's terminal escape sequences. */
export function cleanSerial(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1bc/g, '').replace(/\r/g, '');
}

/**
 * The assertion message for a failed boot: the problems, where the whole serial log was kept (a file under
 * os.tmpdir() that is left behind on purpose), and the log's tail.
 */
export function failureReport(r: BootResult): string {
  let kept = '';
  try {
    const f = path.join(os.tmpdir(), `vigil-qemu-failed-${r.action}-${Date.now()}.log`);
    fs.writeFileSync(f, cleanSerial(r.serial));
    kept = ` (whole serial log kept in ${f})`;
  } catch { /* tail only */ }
  return `QEMU boot failed${kept}:\n  ${r.problems.join('\n  ')}\n--- serial log (tail) ---\n${tail(r.serial, 60)}\n---`;
}

export function tail(s: string, lines: number): string {
  return cleanSerial(s).split('\n').slice(-lines).join('\n');
}

/** `npm run test:boot`: one boot, the whole serial log on stdout, the verdict on stderr. */
async function main(): Promise<number> {
  const p = prepareBoot();
  try {
    const r = await bootQemu(p);
    process.stdout.write(cleanSerial(r.serial) + '\n');
    const times = MARKERS.map(([n]) => `${n}=${r.at[n] ?? '-'}ms`).join(' ');
    process.stderr.write(`\nqemu boot: wall ${r.wallMs} ms; ${times}; guest uptime at stage2 done ${r.guestStage2DoneUptime ?? '-'} s\n`);
    if (r.problems.length) {
      process.stderr.write(`FAIL:\n  ${r.problems.join('\n  ')}\n`);
      return 1;
    }
    process.stderr.write('PASS\n');
    return 0;
  } finally {
    p.cleanup();
  }
}

if (require.main === module) {
  main().then((c) => { process.exitCode = c; }, (e) => { process.stderr.write(`test:boot: ${(e as Error).stack}\n`); process.exitCode = 1; });
}
