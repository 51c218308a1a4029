/**
 * `s6-rc` for s6-overlay images (compat/s6-overlay/command/s6-rc, on the services' PATH): `vigil rc` with
 * s6-rc's name in its messages (`s6-rc: info: service X: starting`, `s6-rc: fatal: timed out`), same options
 * (`-v N -n MS -t MS -l LIVE -b -u|-d|-D -p -a`), commands (change, start, stop, list, listall, diff) and exit
 * codes (0, 1, 2 timeout, 3 unknown name, 4, 100 usage, 111). The live directory is `-l`, else
 * $VIGIL_RUNDIR/s6-rc, else /run/s6-rc, where s6-overlay has it.
 */
import { runAs } from './rc';

export function run(argv: string[]): Promise<number> {
  return runAs('s6-rc', argv);
}
