/**
 * `vigil init` — see src/init/README.md (modes, the fifo trick, signals, exit codes) and `vigil init --help`.
 */
import { INIT_USAGE, parseInitArgs, UsageError } from '../init/options';
import { Init, InitHandover } from '../init/init';
import { takeHandover } from '../sys/handover';
import { REEXEC_FORMAT, REEXEC_FORMAT_2 } from '../supervisor/reexec';
import { takeColdMarker } from '../supervisor/watchdog';
import { looksLikeOverlay } from '../init/overlay';
import { isDir } from '../sys/stat';

export async function run(argv: string[]): Promise<number> {
  let o;
  try {
    o = parseInitArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`vigil init: ${e.message}\n${INIT_USAGE}`);
      if (process.pid !== 1) return 100;
      // a kernel's init must not exit over a usage error: go on with the defaults
      o = parseInitArgs([]);
    } else throw e;
  }
  if (o === 'help') {
    process.stdout.write(INIT_USAGE);
    return 0;
  }
  // an s6-overlay image with `vigil init` as its entrypoint: no vigil basedir, the overlay's directories
  if (!o.s6Overlay && !o.basedirGiven && !isDir(o.basedir) && looksLikeOverlay()) o.s6Overlay = true;
  // a re-exec of this init (src/supervisor/reexec.ts): the previous image's state
  let handed: InitHandover | Error | null = null;
  try {
    const h = takeHandover() as Partial<InitHandover> | null;
    if (h !== null) {
      if (typeof h !== 'object' || (h.v !== REEXEC_FORMAT && h.v !== REEXEC_FORMAT_2) || h.kind !== 'init' || !h.machine || !h.scanner || !Array.isArray(h.inlog)) {
        throw new Error(`a re-exec state this version does not read (format ${String(h?.v)}, ${String(h?.kind)})`);
      }
      handed = h as InitHandover;
    }
  } catch (e) {
    handed = e as Error;
  }
  // or a cold one (the event-loop watchdog fired: no state, src/supervisor/watchdog.ts)
  const cold = handed ? null : takeColdMarker();
  const init = new Init(o);
  const code = await init.boot(handed, cold);
  // leave at once: the tree is down, nothing is left to flush but our own console messages (synchronous)
  process.exit(code);
}
