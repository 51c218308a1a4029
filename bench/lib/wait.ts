/** Bounded waiting helpers: every wait has a deadline and fails with a message saying what it waited for. */
import * as fs from 'node:fs';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class TimeoutError extends Error {}

/**
 * Poll `pred` every `intervalMs` until it returns a truthy value (returned) or `timeoutMs` passes (throws
 * TimeoutError naming `what`). `pred` may be async.
 */
export async function waitFor<T>(
  what: string,
  pred: () => T | Promise<T>,
  timeoutMs: number,
  intervalMs = 5,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v as NonNullable<T>;
    if (Date.now() >= deadline) throw new TimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/**
 * Like waitFor, but also re-checks whenever something changes in `dir` (inotify through fs.watch), so the
 * answer comes as soon as the file is renamed into place; the poll is only a fallback.
 */
export async function waitForInDir<T>(
  what: string,
  dir: string,
  pred: () => T,
  timeoutMs: number,
  pollMs = 20,
): Promise<NonNullable<T>> {
  const first = pred();
  if (first) return first as NonNullable<T>;
  return new Promise<NonNullable<T>>((resolve, reject) => {
    let done = false;
    let watcher: fs.FSWatcher | null = null;
    const finish = (err: Error | null, v?: NonNullable<T>): void => {
      if (done) return;
      done = true;
      clearInterval(poll);
      clearTimeout(timer);
      if (watcher) watcher.close();
      if (err) reject(err);
      else resolve(v as NonNullable<T>);
    };
    const check = (): void => {
      try {
        const v = pred();
        if (v) finish(null, v as NonNullable<T>);
      } catch (e) {
        finish(e as Error);
      }
    };
    const poll = setInterval(check, pollMs);
    const timer = setTimeout(
      () => finish(new TimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    );
    try {
      watcher = fs.watch(dir, { persistent: true }, check);
      watcher.on('error', () => { /* the poll keeps going */ });
    } catch {
      /* no watcher: poll only */
    }
    check();
  });
}
