/**
 * The `vigil rc` client: connect to LIVE/rc.sock, send one request with fds 0-2, print what comes back
 * (messages on stderr as "PROG: level: text", output on stdout), exit with the code the engine gives.
 * SIGINT / SIGTERM ask the engine to cancel this request (s6-rc aborts its transitions on them) and the client
 * still waits for the answer; a second one leaves at once (exit 111).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native } from '../sys/native';
import { watchReadable, readAvailable } from '../sys/fdwatch';
import { strerror, strerrorNum } from '../sys/errors';
import { closeQuiet } from '../sys/fds';
import { encode, livePaths, parseServerLine, Request } from './protocol';

/** -l LIVE, else $VIGIL_RUNDIR/s6-rc, else /run/s6-rc */
export function liveDir(given: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (given) return given;
  if (env.VIGIL_RUNDIR) return path.join(env.VIGIL_RUNDIR, 's6-rc');
  return '/run/s6-rc';
}

function err(line: string): void {
  try {
    fs.writeSync(2, `${line}\n`);
  } catch {
    /* stderr gone */
  }
}

/** Send the request, relay the answer; resolves with the exit code. */
export function callEngine(live: string, req: Request, prog: string): Promise<number> {
  const sock = livePaths(live).socket;
  let fd: number;
  try {
    fd = native().unixConnect(sock);
  } catch (e) {
    const hint = (e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ECONNREFUSED'
      ? ' (no vigil svscan --rc or vigil init is running there; set -l or VIGIL_RUNDIR)'
      : '';
    err(`${prog}: fatal: unable to connect to ${sock}: ${strerror(e)}${hint}`);
    return Promise.resolve(111);
  }
  const n = native();
  const line = encode(req);
  const sent = n.sendFds(fd, line, 0, line.length, [0, 1, 2]);
  if (sent !== line.length) {
    err(`${prog}: fatal: unable to send the request to ${sock}: ${sent < 0 ? strerrorNum(sent) : 'short write'}`);
    closeQuiet(fd);
    return Promise.resolve(111);
  }
  n.setNonblock(fd, true);
  return new Promise<number>((resolve) => {
    let buf = '';
    let done = false;
    let interrupted = 0;
    const scratch = Buffer.allocUnsafe(65536);
    const onSig = () => {
      interrupted++;
      if (interrupted > 1) return finish(111);
      const c = encode({ t: 'cancel' });
      n.write(fd, c, 0, c.length);
    };
    const finish = (code: number) => {
      if (done) return;
      done = true;
      watch.stop();
      closeQuiet(fd);
      process.removeListener('SIGINT', onSig);
      process.removeListener('SIGTERM', onSig);
      resolve(code);
    };
    process.on('SIGINT', onSig);
    process.on('SIGTERM', onSig);
    const watch = watchReadable(fd, () => {
      let got;
      try {
        got = readAvailable(fd, scratch);
      } catch (e) {
        err(`${prog}: fatal: unable to read from ${sock}: ${strerror(e)}`);
        return finish(111);
      }
      buf += got.bytes.toString('utf8');
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const l = parseServerLine(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (!l) continue;
        if (l.t === 'msg') err(`${prog}: ${l.level}: ${l.text}`);
        else if (l.t === 'out') process.stdout.write(l.text);
        else return finish(l.code);
      }
      if (got.eof) {
        err(`${prog}: fatal: the service manager closed the connection without an answer`);
        finish(111);
      }
    });
  });
}
