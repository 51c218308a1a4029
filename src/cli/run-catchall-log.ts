/**
 * The catch-all logger's run program (RUNDIR/service/s6-svscan-log/run is a `#!node` file calling main()).
 * It does what s6-linux-init's execline run script does with `redirfd -rnb 0 fifo`, `fdmove -c 1 2`:
 *   fd 0 = the fifo opened read-only (non-blocking so the open never waits for a writer, then made blocking);
 *   fd 1 = the console (stderr, which the scanner gives this service) when copying, else /dev/null;
 * then runs `vigil log -d3 -- [1] t LOGDIR` in this same process (no second Node start).
 */
import * as fs from 'node:fs';
import { native } from '../sys/native';
import type { LoggerConfig } from '../init/services';

export function main(cfg: LoggerConfig): void {
  const sh = native();
  const fd = fs.openSync(cfg.fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  sh.setNonblock(fd, false);
  sh.dup2(fd, 0);
  fs.closeSync(fd);
  if (cfg.console) {
    sh.dup2(2, 1);
  } else {
    const n = fs.openSync('/dev/null', fs.constants.O_WRONLY);
    sh.dup2(n, 1);
    fs.closeSync(n);
  }
  const args = ['-d3', '--', ...(cfg.console ? ['1'] : []), 't', cfg.logdir];
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const log = require('./log') as { run(argv: string[]): Promise<number> | number };
  Promise.resolve(log.run(args)).then(
    (code) => process.exit(typeof code === 'number' ? code : 0),
    (e) => {
      fs.writeSync(2, `vigil init: catch-all logger: ${(e as Error).message}\n`);
      process.exit(111);
    },
  );
}
