/**
 * Waiting for services to reach a state, as s6-svwait / s6-svlisten1 (and so `s6-svc -w`) do
 * (s6-protocol.md §4.5), in-process: no s6-ftrigrd helper, one fifo subscription per service directory.
 *
 * Order, as s6: for each directory, make `event/` if missing, subscribe to it, THEN read `supervise/status`
 * for the starting state (so no event between the two can be missed). Starting state: up = pid ≠ 0 and not
 * finishing, ready = the ready flag. Event bytes (only `DuUdOx` count):
 *   d → (up 0, ready 0)   D → (0, 1)   u → (1, 0)   U → (1, 1)
 *   O while waiting for up: the service is marked as having reached the goal, and it counts as a failure
 *   x: marked as reached; a failure if it was not already in the wanted state
 * The goal is checked before waiting and after every byte. `and` mode: every service in the state; `or`:
 * at least one. The result is the number of failures. Bytes that arrive after the goal was reached are kept
 * for the next wait (s6-svwait -r waits twice on one subscription).
 */
import { Subscription, subscribeFifodir } from './fifodir';
import { readStatus, isUp } from './status';
import { EVENT_DIR } from './paths';
import { Fatal, Messages, joinS6 } from './svclient';

const EVENT_BYTES = 'DuUdOx';

export class SvListener {
  private readonly up: boolean[] = [];
  private readonly ready: boolean[] = [];
  private readonly queues: number[][] = [];
  private readonly subs: Subscription[] = [];
  private wake: (() => void) | null = null;

  /** Subscribe to every dir's event/ and read its status; throws a Fatal (111) as s6 does. */
  constructor(readonly dirs: readonly string[], private readonly msg: Messages) {
    try {
      dirs.forEach((dir, i) => {
        this.queues.push([]);
        let sub: Subscription;
        try {
          sub = subscribeFifodir(joinS6(dir, EVENT_DIR), (bytes) => this.onBytes(i, bytes));
        } catch (e) {
          throw msg.fatalSys(111, `unable to subscribe to events for ${dir}`, e);
        }
        this.subs.push(sub);
        let st;
        try {
          st = readStatus(dir);
        } catch (e) {
          throw msg.fatalSys(111, 'unable to s6_svstatus_read', e);
        }
        this.up.push(isUp(st));
        this.ready.push(st.ready);
      });
    } catch (e) {
      this.close();
      throw e;
    }
  }

  private onBytes(i: number, bytes: Buffer): void {
    const q = this.queues[i];
    for (const b of bytes) if (EVENT_BYTES.includes(String.fromCharCode(b))) q.push(b);
    const w = this.wake;
    if (w) w();
  }

  private got(wantUp: boolean, wantReady: boolean, or: boolean): boolean {
    const ok = (i: number): boolean => (wantUp ? this.up[i] : !this.up[i]) && (!wantReady || this.ready[i]);
    for (let i = 0; i < this.dirs.length; i++) {
      if (or && ok(i)) return true;
      if (!or && !ok(i)) return false;
    }
    return !or;
  }

  /**
   * Wait for the goal. Resolves with the number of failures; rejects with Fatal(99, "timed out") once
   * `deadline` (a Date.now() value, or null for none) has passed.
   */
  wait(wantUp: boolean, wantReady: boolean, or: boolean, deadline: number | null): Promise<number> {
    if (this.got(wantUp, wantReady, or)) return Promise.resolve(0);
    let failures = 0;
    return new Promise<number>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (err: Fatal | null): void => {
        this.wake = null;
        if (timer) clearTimeout(timer);
        if (err) reject(err);
        else resolve(failures);
      };
      const drain = (): void => {
        for (let i = 0; i < this.dirs.length; i++) {
          const q = this.queues[i];
          while (q.length > 0) {
            const c = String.fromCharCode(q.shift() as number);
            if (c === 'x') {
              if (this.up[i] !== wantUp || this.ready[i] !== wantReady) failures++;
              this.up[i] = wantUp;
              this.ready[i] = wantReady;
            } else if (c === 'O') {
              if (wantUp) {
                this.up[i] = true;
                this.ready[i] = wantReady;
                failures++;
              }
            } else {
              this.up[i] = c === 'u' || c === 'U';
              this.ready[i] = c === 'D' || c === 'U';
            }
            if (this.got(wantUp, wantReady, or)) {
              finish(null);
              return;
            }
          }
        }
      };
      this.wake = drain;
      if (deadline !== null) {
        // setTimeout caps at 2^31-1 ms; re-arm until the deadline really has passed
        const arm = (): void => {
          const left = deadline - Date.now();
          if (left <= 0) finish(this.msg.fatal(99, 'timed out'));
          else timer = setTimeout(arm, Math.min(left, 0x7fffffff));
        };
        arm();
        if (this.wake === null) return;
      }
      drain();
    });
  }

  /** Unsubscribe: unlink every fifo and close its fds. */
  close(): void {
    for (const s of this.subs) s.close();
    this.subs.length = 0;
    this.wake = null;
  }
}

/** -t / -T: 0 means no deadline. */
export function deadlineFrom(ms: number): number | null {
  return ms > 0 ? Date.now() + ms : null;
}
