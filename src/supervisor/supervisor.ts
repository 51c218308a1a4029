/**
 * The Supervisor: every Service of this process, one event queue, one world (one timer queue), one error
 * boundary.
 *
 * Inputs (the reaper's exit callbacks, uv_poll callbacks on control fifos and notification pipes, the shared
 * timer, requests from the scanner or a CLI) never act directly: they `post(service, event)`. post() appends
 * to the queue and, unless a drain is already running, drains it: each event is handed to its service's
 * step() inside try/catch, so an exception in one service's handling becomes one line
 * `vigil: warning: NAME: ...` on stderr and never touches another service (queue then drain: a step that
 * produces a follow-up event posts it, and it runs after the current step returns).
 *
 * Observers: addEventListener() hands every service's event bytes (the ones s6 writes to event/: s u U d D O
 * x) to in-process listeners, in order, right after the status file is written. The service manager
 * (src/rc) learns up / ready / down / permanently failed this way, without polling or a fifodir.
 *
 * The world (system calls, clocks, timers) is injected: `new Supervisor()` runs on the real one
 * (realworld.ts); the unit tests give a fake one.
 */
import * as fs from 'node:fs';
import { Event, Host, Service, ServiceOptions, ServiceRecord, SupervisorSignal } from './service';
import type { Timers, World } from './world';
import { realWorld } from './realworld';

export interface SupervisorOptions {
  /** where warning lines go (default: stderr, written synchronously) */
  log?: (line: string) => void;
  /** called when a service's supervision has ended (after its `x`) */
  onEnded?: (svc: Service) => void;
  /** the world (default: the real one) */
  world?: World;
}

/**
 * An in-process observer of service events. It runs inside the drain: it may post events or send control
 * letters (they are queued and run after the current step), never call a service's step itself.
 */
export type EventListener = (svc: Service, events: string) => void;

export function defaultLog(line: string): void {
  try {
    fs.writeSync(2, line.endsWith('\n') ? line : line + '\n');
  } catch {
    /* stderr gone: nothing to do */
  }
}

export class Supervisor implements Host {
  readonly world: World;
  readonly services = new Set<Service>();
  private queue: Array<Service | Event> = [];
  private head = 0;
  private draining = false;
  /** fds held by all supervisions (2 per service + own stdio copies), for fd budgeting */
  fdsHeld = 0;
  private readonly logLine: (line: string) => void;
  private readonly onEnded?: (svc: Service) => void;
  private listeners: EventListener[] = [];

  constructor(opts: SupervisorOptions = {}) {
    this.world = opts.world ?? realWorld();
    this.logLine = opts.log ?? defaultLog;
    this.onEnded = opts.onEnded;
  }

  /** the shared timer queue (monotonic deadlines) */
  get timers(): Timers {
    return this.world.timers;
  }

  /**
   * Start supervising a service directory. Throws SetupError (message names the service; exitCode 100 when
   * another supervisor holds the lock or supervise/control is not a fifo, 111 otherwise).
   */
  add(opts: ServiceOptions): Service {
    const svc = new Service(this, opts);
    this.services.add(svc);
    try {
      svc.open();
    } catch (e) {
      this.services.delete(svc);
      throw e;
    }
    this.fdsHeld += svc.heldFds;
    return svc;
  }

  /**
   * Take services back from records saved by Service.snapshot() in a previous image of this process (a
   * re-exec): each one's fds are still open here and its pids are still our children (Service.restore).
   * `each` sees every live service before any event runs (so its owner knows it before an exit that
   * happened during the exec, or a deadline that passed, is handled); then the queue is drained.
   */
  restore(recs: ServiceRecord[], each: (svc: Service, index: number) => void = () => {}): Service[] {
    const out: Service[] = [];
    const was = this.draining;
    this.draining = true;
    try {
      recs.forEach((rec, i) => {
        const svc = Service.restore(this, rec);
        out.push(svc);
        if (svc.done) return;
        this.services.add(svc);
        this.fdsHeld += svc.heldFds;
        each(svc, i);
      });
    } finally {
      this.draining = was;
    }
    if (!was) this.drain();
    return out;
  }

  /** Queue a control byte string for a service, as if written to its supervise/control. */
  control(svc: Service, letters: string): void {
    for (let i = 0; i < letters.length; i++) this.post(svc, { t: 'ctl', c: letters.charCodeAt(i) & 0xff });
  }

  /** What a signal to "the supervisor" of that service does in s6 (§5.3). */
  signal(svc: Service, sig: SupervisorSignal): void {
    this.post(svc, { t: 'sig', sig });
  }

  post(svc: Service, ev: Event): void {
    this.queue.push(svc, ev);
    if (!this.draining) this.drain();
  }

  private drain(): void {
    this.draining = true;
    try {
      while (this.head < this.queue.length) {
        const svc = this.queue[this.head] as Service;
        const ev = this.queue[this.head + 1] as Event;
        this.queue[this.head] = this.queue[this.head + 1] = undefined as unknown as Event;
        this.head += 2;
        try {
          svc.step(ev);
        } catch (e) {
          this.warn(svc, `internal error handling ${ev.t}${ev.t === 'ctl' ? ` '${String.fromCharCode(ev.c)}'` : ''}: ${(e as Error)?.stack ?? e}`.split('\n')[0]);
        }
      }
    } finally {
      this.queue.length = 0;
      this.head = 0;
      this.draining = false;
    }
  }

  /** Observe every service's event bytes; returns the function that stops it. */
  addEventListener(fn: EventListener): () => void {
    this.listeners = [...this.listeners, fn];
    return () => {
      this.listeners = this.listeners.filter((f) => f !== fn);
    };
  }

  /** Host side of Service.announce: each listener in turn, each isolated (a throw is one warning line). */
  announced(svc: Service, events: string): void {
    for (const fn of this.listeners) {
      try {
        fn(svc, events);
      } catch (e) {
        this.warn(svc, `internal error in an event listener: ${(e as Error)?.message ?? e}`);
      }
    }
  }

  warn(svc: Service | null, msg: string): void {
    this.logLine(`vigil: warning: ${svc ? `${svc.name}: ` : ''}${msg}`);
  }

  ended(svc: Service): void {
    if (!this.services.delete(svc)) return;
    this.fdsHeld -= svc.heldFds;
    if (this.onEnded) {
      try {
        this.onEnded(svc);
      } catch (e) {
        this.warn(svc, `internal error after supervision ended: ${(e as Error).message}`);
      }
    }
  }

  devnull(): number {
    return this.world.sys.devnull();
  }
}
