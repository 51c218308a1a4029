// `vigil supervise DIR`: one service, and the four signals of s6-protocol.md §5.3, judged from outside
// with s6-svstat / s6-svok and the event fifodir.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { makeTree, removeTree, SLEEP_RUN } from '../helpers/scandir';
import { startBg, tool, VIGIL, Bg, isGoneOrZombie } from '../helpers/svscan';
import { waitFor, waitUp, statusOf, recordEvents, sleep } from '../helpers/wait';

const cleanup: Array<() => void> = [];
after(() => {
  for (const f of cleanup.reverse()) f();
});

async function supervise(tree: Record<string, string> = { 'a/run!': SLEEP_RUN }): Promise<{ dir: string; bg: Bg; pid: number }> {
  const sd = makeTree(tree);
  cleanup.push(() => removeTree(sd));
  const bg = startBg(process.execPath, [VIGIL, 'supervise', 'a'], { cwd: sd });
  cleanup.push(() => bg.kill());
  const dir = path.join(sd, 'a');
  const st = await waitUp(dir);
  return { dir, bg, pid: st.pid };
}
const exited = (bg: Bg, ms: number) => waitFor(() => bg.hasExited(), ms, 'vigil supervise exit');

test('SIGTERM: the service goes down, then supervision ends (d, Dx), exit 0', async () => {
  const { dir, bg } = await supervise();
  const ev = recordEvents(path.join(dir, 'event'));
  try {
    bg.signal('SIGTERM');
    await exited(bg, 5000);
    assert.equal((await bg.exited)[0], 0);
    await ev.waitMatch(/dDx/, 2000);
    assert.equal(ev.bytes(), 'dDx');
    assert.equal(statusOf(dir)!.pid, 0);
    assert.equal((await tool('s6-svok', [dir])).code, 1);
  } finally {
    ev.close();
  }
});

test('SIGQUIT: supervision ends at once, the service keeps running', async () => {
  const { dir, bg, pid } = await supervise();
  bg.signal('SIGQUIT');
  await exited(bg, 5000);
  assert.ok(!isGoneOrZombie(pid), 'service still running');
  assert.equal((await tool('s6-svok', [dir])).code, 1);
  process.kill(pid, 'SIGKILL');
});

test('SIGHUP: supervision ends only once the service has died', async () => {
  const { bg, pid } = await supervise();
  bg.signal('SIGHUP');
  await sleep(300);
  assert.ok(!bg.hasExited(), 'still supervising while run lives');
  process.kill(pid, 'SIGKILL');
  await exited(bg, 5000);
});

test('SIGINT: SIGINT to the service process group, then exit', async () => {
  const { bg, pid } = await supervise();
  bg.signal('SIGINT');
  await exited(bg, 5000);
  await waitFor(() => isGoneOrZombie(pid), 3000, 'run killed by SIGINT to its group');
});

test('a directory held by another supervisor: exit 100 and a message naming it', async () => {
  const { dir } = await supervise();
  const r = await tool(process.execPath, [VIGIL, 'supervise', dir], 5000);
  assert.equal(r.code, 100);
  assert.match(r.stderr, /another supervisor .* already holds supervise\/lock/);
});
