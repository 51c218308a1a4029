/**
 * Resource limits: vigil svscan holds a few fds per service (control fifo, lock, log pipe ends), so it raises
 * its soft RLIMIT_NOFILE to the hard limit at start; children get the limit the service asks for.
 */
import * as fs from 'node:fs';
import { native } from './native';

export interface Limit {
  soft: number;
  hard: number;
}

export function getNofileLimit(): Limit {
  const n = native();
  const [soft, hard] = n.getrlimit(n.constants.RLIMIT_NOFILE);
  return { soft, hard };
}

/** Raise the soft RLIMIT_NOFILE to the hard limit (capped by fs.nr_open); returns the limit now in force. */
export function raiseNofileLimit(): Limit {
  const n = native();
  const cur = getNofileLimit();
  let target = cur.hard;
  if (!Number.isFinite(target)) {
    try {
      target = Number(fs.readFileSync('/proc/sys/fs/nr_open', 'utf8').trim()) || 1048576;
    } catch {
      target = 1048576;
    }
  }
  if (cur.soft < target) n.setrlimit(n.constants.RLIMIT_NOFILE, target, cur.hard);
  return getNofileLimit();
}
