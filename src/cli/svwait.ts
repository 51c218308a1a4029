/**
 * `vigil svwait [-U|-u|-D|-d|-r|-R] [-a|-o] [-t ms] DIR...` (s6-protocol.md §4.5): wait until the services
 * are up (-u, default), up and ready (-U), down (-d), down with finish done (-D), restarted (-r: down, then
 * up) or restarted and ready (-R); all of them (-a, default) or one (-o).
 * Exit: 0 reached; N = how many services failed permanently (finish exit 125 while waiting for up) or saw
 * their supervisor exit; 99 timed out (-t ms, 0 = never); 100 bad usage; 111 system error.
 * In-process: one event/ subscription per service, no helper process.
 */
import { Fatal, Messages } from '../formats/svclient';
import { scanUint, wantsHelp } from '../formats/clientopts';
import { SvListener, deadlineFrom } from '../formats/svlisten';

const USAGE = 'vigil svwait [ -U | -u | -d | -D | -r | -R ] [ -a | -o ] [ -t timeout ] servicedir...';

const HELP = `usage: ${USAGE}

Wait until the supervised services reach a state, as s6-svwait does.
  -u  up (default)   -U  up and ready   -d  down   -D  down and finish done
  -r  down, then up  -R  down, then up and ready
  -a  all of them (default)   -o  one of them
  -t ms  give up after ms milliseconds (exit 99); 0 = wait forever
Exit codes: 0 ok, N = number of services that failed permanently or whose supervisor exited,
99 timed out, 100 bad usage, 111 system error.
`;

export async function run(argv: string[]): Promise<number> {
  const msg = new Messages('vigil svwait', USAGE);
  if (wantsHelp(argv)) {
    process.stdout.write(HELP);
    return 0;
  }
  try {
    const parsed = msg.getopt(argv, 'UudDrRaot:');
    let or = false;
    let wantUp: 0 | 1 | 2 = 1;
    let wantReady = false;
    let t = 0;
    for (const o of parsed.opts) {
      switch (o.letter) {
        case 'U': wantUp = 1; wantReady = true; break;
        case 'u': wantUp = 1; wantReady = false; break;
        case 'd': wantUp = 0; wantReady = false; break;
        case 'D': wantUp = 0; wantReady = true; break;
        case 'r': wantUp = 2; wantReady = false; break;
        case 'R': wantUp = 2; wantReady = true; break;
        case 'a': or = false; break;
        case 'o': or = true; break;
        case 't': {
          const v = scanUint(o.arg);
          if (v === undefined) throw msg.usage();
          t = v;
          break;
        }
      }
    }
    if (parsed.rest.length === 0) throw msg.usage();
    const deadline = deadlineFrom(t);
    const failed = (e: number): Fatal => msg.fatal(e, 'some services reported permanent failure or their supervisor died');
    const listener = new SvListener(parsed.rest, msg);
    try {
      if (wantUp === 2) {
        // every service down first (always "all", as s6-svwait), then the real goal
        const e = await listener.wait(false, false, false, deadline);
        if (e > 0) throw failed(e);
        wantUp = 1;
      }
      const e = await listener.wait(wantUp === 1, wantReady, or, deadline);
      if (e > 0) throw failed(e);
      return 0;
    } finally {
      listener.close();
    }
  } catch (e) {
    return msg.report(e);
  }
}
