/**
 * Test-only fault injector, preloaded into a supervisor (`node -r dist/test/helpers/fault-inject.js bin/vigil
 * svscan ...`; node keeps -r in execArgv, so a re-exec'd image has it too). With VIGIL_TEST_FAULT_DIR=D it
 * watches D (inotify: no timer, no polling) and, when a file appears there:
 * - `throw`: an exception is thrown from the watcher's callback (uncaught: the supervisor's fault path);
 * - `reject`: a promise is rejected with nobody to catch it (an unhandled rejection);
 * - `block`: the event loop is blocked for good (an endless synchronous loop, run from a timer: a turn of
 *   the loop that never ends, for the watchdog, src/supervisor/watchdog.ts, to notice).
 * Just before the fault, every pid listed in D/kill (whitespace-separated; write it before the trigger) is
 * SIGKILLed: those deaths happen while the faulting image hands over and execs (or, for `block`, while the
 * loop is blocked), so the new image must reap them and act on them. Each trigger file is consumed
 * (unlinked) so it fires once.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const dir = process.env.VIGIL_TEST_FAULT_DIR;
if (dir) {
  const take = (name: string): boolean => {
    try {
      fs.unlinkSync(path.join(dir, name));
      return true;
    } catch {
      return false;
    }
  };
  const w = fs.watch(dir, () => {
    const kind = take('throw') ? 'throw' : take('reject') ? 'reject' : take('block') ? 'block' : '';
    if (!kind) return;
    let pids: number[] = [];
    try {
      pids = fs.readFileSync(path.join(dir, 'kill'), 'utf8').split(/\s+/).filter(Boolean).map(Number);
      fs.unlinkSync(path.join(dir, 'kill'));
    } catch {
      pids = [];
    }
    const kill = (): void => {
      for (const p of pids) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    };
    if (kind === 'block') {
      // the kills and the block in one callback: no turn of the loop in between handles those deaths
      setTimeout(() => {
        kill();
        for (;;) {
          /* blocked (test) */
        }
      }, 0);
      return;
    }
    kill();
    if (kind === 'throw') throw new Error('injected fault (test)');
    void Promise.reject(new Error('injected rejection (test)'));
  });
  w.unref();
}
