/**
 * `vigil reexec [SCANDIR]`: ask the vigil svscan (or vigil init) running on SCANDIR to re-execute itself,
 * every service kept running (src/supervisor/reexec.ts): after an upgrade of the package, the new code takes
 * over without a restart of anything. It writes the R byte to SCANDIR/.s6-svscan/control, as s6-svscanctl
 * writes its letters, and returns at once; the scanner says "re-executed on request" on its stderr once the
 * new image has taken every service back (or one warning line saying why it did not).
 * SCANDIR defaults to $VIGIL_SCANDIR, else /run/service. Exit codes as s6-svscanctl: 0 sent, 100 bad usage
 * or nobody listening, 111 system error.
 */
import { Messages, writeScannerControl } from '../formats/svclient';
import { wantsHelp } from '../formats/clientopts';
import { SVSCAN_REEXEC } from '../formats/control';

const USAGE = 'vigil reexec [ scandir ]';

const HELP = `usage: ${USAGE}

Make the vigil svscan or vigil init supervising scandir (default: $VIGIL_SCANDIR, else /run/service)
execute itself again, with every service kept running and nothing restarted (e.g. after upgrading vigil).
Exit codes: 0 sent, 100 bad usage or no scanner listening, 111 system error.
`;

export function run(argv: string[]): number {
  const msg = new Messages('vigil reexec', USAGE);
  if (wantsHelp(argv)) {
    process.stdout.write(HELP);
    return 0;
  }
  try {
    const parsed = msg.getopt(argv, '');
    if (parsed.rest.length > 1) throw msg.usage();
    const dir = parsed.rest[0] ?? (process.env.VIGIL_SCANDIR || '/run/service');
    writeScannerControl(msg, dir, Buffer.from(SVSCAN_REEXEC, 'latin1'));
    return 0;
  } catch (e) {
    return msg.report(e);
  }
}
