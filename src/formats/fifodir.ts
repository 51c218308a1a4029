/**
 * The event/ fifodir (s6-protocol.md §4): how a supervisor announces events and how a listener subscribes.
 *
 * Notify: for every entry named `ftrig1:@<24 hex>:<6 chars>` (exactly 39 characters), open it write-only
 * non-blocking, make one write of the event bytes, close. ENXIO on open or EPIPE on write means the listener
 * is gone: unlink its fifo. EAGAIN (fifo full) is ignored. It never blocks, so a slow or dead listener can
 * never stall the supervisor.
 *
 * Subscribe: mkfifo `.ftrig1:@…:XXXXXX` (0600), open it read-only non-blocking and write-only too (so the
 * reader never sees EOF), then rename it to the name without the dot.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FTRIG_NAME_LENGTH, FTRIG_PREFIX } from './paths';
import { tainLabel, tainNow } from './tai64n';
import { native } from '../sys/native';

const O_WRONLY_NB = fs.constants.O_WRONLY | fs.constants.O_NONBLOCK;

export function isSubscriberName(name: string): boolean {
  return name.length === FTRIG_NAME_LENGTH && name.startsWith(FTRIG_PREFIX);
}

/** Send `bytes` to every listener of `eventDir`. Returns how many listeners got them. Never throws. */
export function notifyFifodir(eventDir: string, bytes: string | Uint8Array): number {
  let names: string[];
  try {
    names = fs.readdirSync(eventDir);
  } catch {
    return 0;
  }
  const data = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
  let sent = 0;
  for (const name of names) {
    if (!isSubscriberName(name)) continue;
    const p = path.join(eventDir, name);
    let fd: number;
    try {
      fd = fs.openSync(p, O_WRONLY_NB);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENXIO') unlinkQuiet(p);
      continue;
    }
    try {
      fs.writeSync(fd, data);
      sent++;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EPIPE') unlinkQuiet(p);
    } finally {
      fs.closeSync(fd);
    }
  }
  return sent;
}

function unlinkQuiet(p: string): void {
  try {
    fs.unlinkSync(p);
  } catch {
    /* already gone */
  }
}

const NAME_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';

function randomSuffix(): string {
  // node:crypto and node:net are loaded only by listeners: the supervisor, which only notifies, never
  // pays for them (~0.7 MB of heap and startup time).
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const r = (require('node:crypto') as typeof import('node:crypto')).randomBytes(6);
  let s = '';
  for (let i = 0; i < 6; i++) s += NAME_CHARS[r[i] & 63];
  return s;
}

/** Make the event dir if missing: mode 03730 (setgid, sticky, owner rwx, group -wx). */
export function ensureFifodir(eventDir: string): void {
  try {
    fs.mkdirSync(eventDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    // an existing event that is not a directory (a regular file, a fifo) is refused, as s6 does
    if (!fs.statSync(eventDir).isDirectory()) {
      throw Object.assign(new Error(`${path.basename(eventDir)} exists and is not a directory`), { code: 'ENOTDIR' });
    }
    return;
  }
  fs.chmodSync(eventDir, 0o3730);
}

export interface Subscription {
  /** full path of the subscriber fifo */
  readonly path: string;
  close(): void;
}

/**
 * Subscribe to `eventDir`; `onBytes` gets each chunk of event bytes. The subscription holds one socket
 * over the fifo (no thread pool). close() unlinks the fifo.
 */
export function subscribeFifodir(eventDir: string, onBytes: (bytes: Buffer) => void): Subscription {
  ensureFifodir(eventDir);
  const name = `${FTRIG_PREFIX.slice(0, -1)}${tainLabel(tainNow())}:${randomSuffix()}`;
  const dotPath = path.join(eventDir, '.' + name);
  const finalPath = path.join(eventDir, name);
  const old = process.umask(0);
  try {
    native().mkfifo(dotPath, 0o600);
  } finally {
    process.umask(old);
  }
  const rfd = fs.openSync(dotPath, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const wfd = fs.openSync(dotPath, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  fs.renameSync(dotPath, finalPath);
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const net = require('node:net') as typeof import('node:net');
  const sock = new net.Socket({ fd: rfd, readable: true, writable: false });
  sock.on('data', onBytes);
  sock.on('error', () => {});
  let closed = false;
  return {
    path: finalPath,
    close() {
      if (closed) return;
      closed = true;
      unlinkQuiet(finalPath);
      sock.destroy();
      fs.closeSync(wfd);
    },
  };
}
