/**
 * One shared timer queue for every service: a binary min-heap of deadlines (monotonic ms) and a single
 * setTimeout armed for the earliest one; no timer at all when nothing is pending, so an idle tree makes no
 * wake-ups. Cancelling marks the entry dead; dead entries are dropped when they reach the top.
 *
 * Deadlines are absolute monotonic times, so a deadline further away than setTimeout can wait (2^31-1 ms,
 * 24.8 days; Node fires a longer delay after 1 ms) is armed for the cap and re-armed when that fires: it
 * never fires early. The clock and the scheduler (setTimeout) are injected, so tests drive it by hand.
 */
import type { Clock, TimerHandle, Timers } from './world';
import { tainNow } from '../formats/tai64n';

export type { TimerHandle };

interface Entry extends TimerHandle {
  fn: () => void;
  seq: number;
}

/** CLOCK_MONOTONIC in ms (process.hrtime is CLOCK_MONOTONIC) and the wall clock as TAI64N. */
export const realClock: Clock = { now: () => Number(process.hrtime.bigint()) / 1e6, wall: tainNow };

/** How the queue arms its single wake-up (setTimeout in the real world). */
export interface Scheduler {
  set(fn: () => void, ms: number): unknown;
  clear(h: unknown): void;
}

export const realScheduler: Scheduler = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** the longest delay setTimeout honours */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export class TimerQueue implements Timers {
  private heap: Entry[] = [];
  private timer: unknown = null;
  private armedFor = Infinity;
  private seq = 0;

  constructor(private readonly clock: Pick<Clock, 'now'> = realClock, private readonly scheduler: Scheduler = realScheduler) {}

  now(): number {
    return this.clock.now();
  }

  /** run fn after `ms` milliseconds (0 = on the next turn of the loop) */
  after(ms: number, fn: () => void): TimerHandle {
    return this.at(this.clock.now() + Math.max(0, ms), fn);
  }

  at(when: number, fn: () => void): TimerHandle {
    const e: Entry = { when, fn, cancelled: false, seq: this.seq++ };
    this.push(e);
    this.arm();
    return e;
  }

  cancel(h: TimerHandle | null | undefined): void {
    if (!h || h.cancelled) return;
    h.cancelled = true;
    if (this.heap[0] === h) this.arm();
  }

  /** number of live timers (for tests and `services()`) */
  get pending(): number {
    return this.heap.filter((e) => !e.cancelled).length;
  }

  private arm(): void {
    while (this.heap.length && this.heap[0].cancelled) this.pop();
    const next = this.heap.length ? this.heap[0].when : Infinity;
    if (next === this.armedFor) return;
    if (this.timer !== null) {
      this.scheduler.clear(this.timer);
      this.timer = null;
    }
    this.armedFor = next;
    if (next === Infinity) return;
    // beyond the cap: wake at the cap, find nothing due, arm again for the rest
    const delay = Math.min(MAX_TIMEOUT_MS, Math.max(0, Math.ceil(next - this.clock.now())));
    this.timer = this.scheduler.set(() => this.fire(), delay);
  }

  private fire(): void {
    this.timer = null;
    this.armedFor = Infinity;
    const now = this.clock.now();
    // run everything due; entries added by a callback for "now" run on the next round (armed with delay 0)
    const due: Entry[] = [];
    while (this.heap.length && (this.heap[0].cancelled || this.heap[0].when <= now + 0.5)) {
      const e = this.pop();
      if (!e.cancelled) due.push(e);
    }
    for (const e of due) {
      if (e.cancelled) continue;
      e.cancelled = true;
      try {
        e.fn();
      } catch (err) {
        process.emitWarning(`vigil: timer callback threw: ${(err as Error).message}`);
      }
    }
    this.arm();
  }

  private less(a: Entry, b: Entry): boolean {
    return a.when < b.when || (a.when === b.when && a.seq < b.seq);
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  private pop(): Entry {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l], h[m])) m = l;
        if (r < h.length && this.less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}
