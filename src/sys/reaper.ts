/**
 * The one process-wide reaper. vigil never uses child_process: every child (services, loggers, finish
 * scripts) and, as PID 1 or subreaper, every re-parented orphan is collected here with waitpid(-1) and handed
 * to the owner that registered its pid. Unknown pids are counted as orphans and dropped.
 *
 * Why registration is race-free: native spawn() returns the pid synchronously and the caller registers it in
 * the same JS turn. The SIGCHLD listener and the child watcher (and so reap()) only run from the event loop,
 * never in between, so reap() can never see a child before its owner is registered. Keep it so: register
 * right after spawn, before any await.
 *
 * Two wake-ups, so no zombie can stay: the SIGCHLD listener (an edge: one pending bit per process, carried
 * from whichever thread takes the signal through libuv's signal pipe to the loop), and the shim's child
 * watcher (native/shim.c): a thread blocked in waitid(WNOWAIT) that asks the loop for a drain whenever any
 * child is a zombie — level-triggered on the state itself, so a death whose SIGCHLD was absorbed by an
 * earlier one still gets a drain. Neither costs a wake-up while nothing dies.
 */
import { native, ReapResult } from './native';

/** Called once with the raw waitpid status when the child dies. */
export type ExitCallback = (status: number, pid: number) => void;

const owners = new Map<number, ExitCallback>();
let installed = false;
let orphans = 0;
let reaped = 0;
let orphanHandler: ((r: ReapResult) => void) | null = null;
const drainListeners = new Set<() => void>();
/** reaping is held (a re-exec'd supervisor registering its children's owners): drains are deferred */
let held = false;
let errorHandler: (e: unknown, pid: number) => void = (e, pid) => {
  const msg = e instanceof Error ? e.stack ?? e.message : String(e);
  process.stderr.write(`vigil: exit handler for pid ${pid} threw: ${msg}\n`);
};

/**
 * Install the SIGCHLD listener (idempotent) and reap once: children that died while we were exec'ing.
 * It reaps at once, so install it before spawning anything (or register owners first): a dead child with
 * no owner yet would be counted as an orphan.
 */
export function installReaper(): void {
  if (!installed) {
    installed = true;
    process.on('SIGCHLD', drain);
    native().watchChildren(drain);
  }
  drain();
}

/** Is the SIGCHLD reaper listening in this process? (Then child_process must not be used here.) */
export function isReaperInstalled(): boolean {
  return installed;
}

/** Remove the SIGCHLD listener (tests; a process that stops supervising). */
export function uninstallReaper(): void {
  if (!installed) return;
  installed = false;
  process.removeListener('SIGCHLD', drain);
  native().watchChildren(noop); // the watcher thread stays (it cannot be stopped); its drains become no-ops
}

function noop(): void {
  /* the reaper is uninstalled */
}

/** Register the owner of a freshly spawned pid. Call it in the same turn as spawn(). */
export function onExit(pid: number, cb: ExitCallback): void {
  owners.set(pid, cb);
}

/** Drop an owner (its exit will then count as an orphan). */
export function forget(pid: number): boolean {
  return owners.delete(pid);
}

/** Reap everything that is dead now and dispatch it; returns how many were reaped. Each owner runs isolated. */
export function drain(): number {
  if (held) return 0;
  const results = native().reap();
  for (const r of results) {
    reaped++;
    const cb = owners.get(r.pid);
    if (cb === undefined) {
      orphans++;
      if (orphanHandler) {
        try {
          orphanHandler(r);
        } catch (e) {
          errorHandler(e, r.pid);
        }
      }
      continue;
    }
    owners.delete(r.pid);
    try {
      cb(r.status, r.pid);
    } catch (e) {
      errorHandler(e, r.pid);
    }
  }
  if (results.length) {
    for (const l of drainListeners) {
      try {
        l();
      } catch (e) {
        errorHandler(e, 0);
      }
    }
  }
  return results.length;
}

/**
 * Defer reaping until releaseReaping(): a supervisor that has just re-executed itself holds it while it
 * registers the owners of the children it carried across execve, so that an exit that happened during the
 * exec (a zombie waiting for us) is handed to its owner, not counted as an orphan. Hold it only within one
 * synchronous set-up: the child watcher waits for the next reap, which release() performs.
 */
export function holdReaping(): void {
  held = true;
}

/** End holdReaping() and reap what died meanwhile (always: the watcher thread may be waiting for it). */
export function releaseReaping(): number {
  held = false;
  return drain();
}

/**
 * cb runs after each drain that reaped something, once every exit callback of that drain has run (init's
 * stage 3 learns there that no process is left). Returns the function that removes it.
 */
export function onDrained(cb: () => void): () => void {
  drainListeners.add(cb);
  return () => {
    drainListeners.delete(cb);
  };
}

/** Called for each reaped pid nobody registered (null to stop). */
export function setOrphanHandler(h: ((r: ReapResult) => void) | null): void {
  orphanHandler = h;
}

/** Where exceptions thrown by exit callbacks go (default: one stderr line + stack). */
export function setReaperErrorHandler(h: (e: unknown, pid: number) => void): void {
  errorHandler = h;
}

export interface ReaperStats {
  /** children with a registered owner, still alive */
  owned: number;
  /** reaped pids nobody had registered */
  orphans: number;
  /** every pid reaped since load */
  reaped: number;
}

export function reaperStats(): ReaperStats {
  return { owned: owners.size, orphans, reaped };
}

/** Reaped orphans so far. */
export function orphansReaped(): number {
  return orphans;
}

/** prctl(PR_SET_CHILD_SUBREAPER): orphans of our descendants come to us instead of PID 1. Survives execve. */
export function setSubreaper(on = true): void {
  native().setSubreaper(on);
}

export function getSubreaper(): boolean {
  return native().getSubreaper();
}
