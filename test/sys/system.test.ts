// The system calls init needs, exercised for real inside namespaces: reboot(2) as PID 1 of a pid namespace
// (the kernel turns it into a signal killing that PID 1), and mount/umount in a private mount namespace.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCmd } from '../helpers/sys-proc';
import { decodeWaitStatus } from '../../src/sys/waitstatus';

const shimPath = path.resolve(__dirname, '..', '..', '..', 'native', 'build', 'Release', 'shim.node');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-system-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function rebootAsPid1(cmd: string): Promise<number> {
  const script = `const s=require(${JSON.stringify(shimPath)}); s.reboot(s.constants.${cmd}); console.log('reboot returned')`;
  const r = await runCmd(['unshare', '--pid', '--fork', '--kill-child', '--mount-proc', process.execPath, '-e', script], 20_000);
  assert.doesNotMatch(r.stdout, /reboot returned/);
  return r.status;
}

test('reboot() as PID 1 of a pid namespace: power-off/halt end it with SIGINT, restart with SIGHUP', async () => {
  // unshare re-raises its child's death signal on itself
  assert.equal(decodeWaitStatus(await rebootAsPid1('RB_POWER_OFF')).signal, 2);
  assert.equal(decodeWaitStatus(await rebootAsPid1('RB_HALT_SYSTEM')).signal, 2);
  assert.equal(decodeWaitStatus(await rebootAsPid1('RB_AUTOBOOT')).signal, 1);
});

test('mount tmpfs and umount it in a private mount namespace; failures carry code and path', async () => {
  const dir = path.join(tmp, 'mnt');
  fs.mkdirSync(dir);
  const script = `
    const s = require(${JSON.stringify(shimPath)}); const fs = require('fs'); const c = s.constants;
    const out = {};
    s.mount('tmpfs', ${JSON.stringify(dir)}, 'tmpfs', c.MS_NOSUID | c.MS_NODEV, 'size=1m,mode=0710');
    out.mounted = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\\n').find((l) => l.includes(${JSON.stringify(` ${dir} `)}));
    fs.writeFileSync(${JSON.stringify(path.join(dir, 'inside'))}, 'x');
    s.mount(null, ${JSON.stringify(dir)}, null, c.MS_REMOUNT | c.MS_RDONLY | c.MS_NOSUID | c.MS_NODEV, null);
    try { fs.writeFileSync(${JSON.stringify(path.join(dir, 'second'))}, 'x'); out.ro = false; } catch (e) { out.ro = e.code; }
    s.umount(${JSON.stringify(dir)}, c.MNT_DETACH);
    out.after = fs.readdirSync(${JSON.stringify(dir)});
    try { s.mount('tmpfs', ${JSON.stringify(path.join(tmp, 'missing'))}, 'tmpfs', 0, null); } catch (e) { out.err = [e.code, e.errno, e.syscall, e.path]; }
    try { s.umount(${JSON.stringify(dir)}, 0); } catch (e) { out.uerr = [e.code, e.syscall]; }
    console.log(JSON.stringify(out));`;
  const r = await runCmd(['unshare', '--mount', '--propagation', 'private', process.execPath, '-e', script], 20_000);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.match(out.mounted, / - tmpfs tmpfs rw,.*mode=710/);
  assert.match(out.mounted, /nosuid,nodev/);
  assert.equal(out.ro, 'EROFS');
  assert.deepEqual(out.after, []);
  assert.deepEqual(out.err, ['ENOENT', -2, 'mount', path.join(tmp, 'missing')]);
  assert.deepEqual(out.uerr, ['EINVAL', 'umount2']);
  assert.deepEqual(fs.readdirSync(dir), [], 'nothing leaked into our mount namespace');
});
