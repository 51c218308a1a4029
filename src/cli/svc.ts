/**
 * `vigil svc [-wu|-wU|-wd|-wD|-wr|-wR] [-T ms] [-abqhkti12pcyroduDUxOQ] DIR` (s6-protocol.md §6).
 *
 * Every command letter, in command-line order, goes into ONE write to DIR/supervise/control.
 * Exit codes: 0 sent; 100 bad usage, supervisor not listening, or a broken supervise dir; 111 system error.
 *
 * -wX waits in-process the way s6-svc's exec of s6-svlisten1 / s6-svwait does: subscribe to DIR/event first,
 * read the status, then send the letters (a failed send is reported but, as with s6-svlisten1's child, the
 * wait goes on), then wait. Exit 0 when reached, 1 when the service failed permanently (`O`) or its
 * supervisor exited (`x`), 99 when -T ms passed. -wU/-wR without DIR/notification-fd become -wu/-wr with a
 * warning. With -w and no letters it only waits (s6-svwait's rules).
 * Messages are s6's with `vigil svc` as the program name (also for what s6-svlisten1/s6-svwait would print).
 */
import * as fs from 'node:fs';
import { Fatal, Messages, joinS6, writeControl } from '../formats/svclient';
import { scanUint, wantsHelp } from '../formats/clientopts';
import { SVC_LETTERS, SVC_MAX_COMMANDS, SVC_WAIT_LETTERS } from '../formats/control';
import { SvListener, deadlineFrom } from '../formats/svlisten';
import { SUPERVISE_DIR } from '../formats/paths';

const USAGE = 'vigil svc [ -wu | -wU | -wd | -wD | -wr | -wR ] [ -T timeout ] [ -abqhkti12pcyroduDUxOQ ] servicedir';

const HELP = `usage: ${USAGE}

Send commands to the supervisor of servicedir (vigil or s6-supervise), as s6-svc does.
  -a -b -q -h -k -t -i -1 -2 -y   send SIGALRM ABRT QUIT HUP KILL TERM INT USR1 USR2 WINCH
  -p -c     pause (SIGSTOP) / continue (SIGCONT)
  -u        up: start it, restart it when it dies      -U  the same and remove ./down
  -d        down: send the down-signal (TERM), CONT    -D  the same and create ./down
  -o        once: start it if down, never restart it   -O  never restart it (no signal)
  -r        restart: send the down-signal, it restarts if wanted up
  -Q        like -O and create ./down                  -x  the supervisor exits when the service is down
  -wu -wU -wd -wD -wr -wR   then wait until up / up and ready / down / down and finish done /
                            restarted / restarted and ready
  -T ms     give up waiting after ms milliseconds (exit 99); 0 = wait forever
Exit codes: 0 ok, 1 (with -w) the service failed permanently or its supervisor died, 99 timed out,
100 bad usage or no supervisor listening, 111 system error.
`;

export async function run(argv: string[]): Promise<number> {
  const msg = new Messages('vigil svc', USAGE);
  if (wantsHelp(argv)) {
    process.stdout.write(HELP);
    return 0;
  }
  try {
    const parsed = msg.getopt(argv, SVC_LETTERS + 'T:w:');
    let letters = '';
    let timeout = 0;
    let wait = '';
    for (const o of parsed.opts) {
      if (o.letter === 'T') {
        const t = scanUint(o.arg);
        if (t === undefined) throw msg.usage();
        timeout = t;
      } else if (o.letter === 'w') {
        const c = (o.arg as string).charAt(0);
        if (c === '' || !SVC_WAIT_LETTERS.includes(c)) throw msg.usage();
        wait = c;
      } else {
        if (letters.length >= SVC_MAX_COMMANDS) throw msg.fatal(100, 'too many commands');
        letters += o.letter;
      }
    }
    if (parsed.rest.length === 0) throw msg.usage();
    if (parsed.rest.length > 1) msg.warn('ignoring extra arguments');
    const dir = parsed.rest[0];
    if (dir.length === 0) throw msg.fatal(100, 'invalid service path');

    if (wait === 'U' || wait === 'R') {
      const fn = joinS6(dir, 'notification-fd');
      try {
        fs.accessSync(fn, fs.constants.F_OK);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw msg.fatalSys(111, `unable to access ${fn}`, e);
        wait = wait === 'U' ? 'u' : 'r';
        msg.warn(`${fn} not present - ignoring request for readiness notification`);
      }
    }

    if (!wait) return send(msg, dir, letters);

    const deadline = deadlineFrom(timeout);
    const listener = new SvListener([dir], msg);
    try {
      if (letters.length > 0) {
        // s6-svlisten1: subscribed and status read; now the command goes out; its failure does not stop the wait
        const code = send(msg, dir, letters);
        void code;
        const wantReady = wait === 'U' || wait === 'D' || wait === 'R';
        const wantUp = wait === 'u' || wait === 'U' || wait === 'r' || wait === 'R';
        const failed = (): Fatal => msg.fatal(1, `${dir} failed permanently or its supervisor died`);
        if (wait === 'r' || wait === 'R') {
          if ((await listener.wait(false, true, true, deadline)) > 0) throw failed();
        }
        if ((await listener.wait(wantUp, wantReady, true, deadline)) > 0) throw failed();
        return 0;
      }
      // s6-svwait -X [-t T] DIR
      const failed = (e: number): Fatal => msg.fatal(e, 'some services reported permanent failure or their supervisor died');
      let wantUp = wait === 'u' || wait === 'U';
      const wantReady = wait === 'U' || wait === 'D' || wait === 'R';
      if (wait === 'r' || wait === 'R') {
        const e = await listener.wait(false, false, false, deadline);
        if (e > 0) throw failed(e);
        wantUp = true;
      }
      const e = await listener.wait(wantUp, wantReady, false, deadline);
      if (e > 0) throw failed(e);
      return 0;
    } finally {
      listener.close();
    }
  } catch (e) {
    return msg.report(e);
  }
}

/** One write of all the letters; prints s6-svc's message on failure and returns the exit code. */
function send(msg: Messages, dir: string, letters: string): number {
  const r = writeControl(dir, SUPERVISE_DIR, Buffer.from(letters, 'latin1'));
  switch (r.kind) {
    case 'sent':
      return 0;
    case 'not-listening':
      return msg.report(msg.fatal(100, `: unable to control ${dir}: supervisor not listening`));
    case 'broken':
      return msg.report(msg.fatalSys(100, `something is wrong with the ${dir}/${SUPERVISE_DIR} directory`, r.error));
    default:
      return msg.report(msg.fatalSys(111, `unable to control ${dir}`, r.error));
  }
}
