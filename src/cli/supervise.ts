/**
 * `vigil supervise DIR`: supervise one service directory (s6-supervise's job) with the same engine the
 * scanner uses, for setups without a scanner. SIGTERM / SIGHUP / SIGQUIT / SIGINT act as on s6-supervise
 * (s6-protocol.md §5.3). Exit codes: 0 when supervision ends normally, 100 when another supervisor holds the
 * directory or supervise/control is not a fifo, 111 on a system error.
 */
import * as path from 'node:path';
import { Supervisor } from '../supervisor/supervisor';
import { Service, SetupError, SupervisorSignal } from '../supervisor/service';

const HELP = `usage: vigil supervise DIR

Supervise the service directory DIR as s6-supervise does: run ./run (./finish after it), keep
DIR/supervise/status up to date, obey DIR/supervise/control, announce events in DIR/event.
SIGTERM: bring the service down, then exit. SIGHUP: exit once the service dies. SIGQUIT: exit now,
leaving the service running. SIGINT: send SIGINT to the service's process group, then exit.
`;

export function run(argv: string[]): Promise<number> | number {
  if (argv[0] === '--help' || argv[0] === '-h') {
    process.stdout.write(HELP);
    return 0;
  }
  const args = argv[0] === '--' ? argv.slice(1) : argv;
  if (args.length < 1 || args[0].startsWith('-')) {
    process.stderr.write(`vigil supervise: usage: vigil supervise DIR\n`);
    return 100;
  }
  const given = args[0];
  const dir = path.resolve(given);
  return new Promise<number>((resolve) => {
    const handlers: Array<[NodeJS.Signals, () => void]> = [];
    const sup = new Supervisor({
      log: (line) => {
        process.stderr.write(line.replace(/^vigil: /, 'vigil supervise: ') + '\n');
      },
      onEnded: () => {
        for (const [s, h] of handlers) process.removeListener(s, h);
        resolve(0);
      },
    });
    // the signal handlers first, as s6-supervise sets up its signals before it starts anything: add() may
    // spawn run at once, and a SIGINT that came between the spawn and the handlers would kill this process
    // by default and leave run behind (seen under load)
    let svc: Service | null = null;
    const map: Array<[NodeJS.Signals, SupervisorSignal]> = [['SIGTERM', 'term'], ['SIGHUP', 'hup'], ['SIGQUIT', 'quit'], ['SIGINT', 'int']];
    for (const [s, what] of map) {
      const h = () => {
        if (svc) sup.signal(svc, what);
      };
      handlers.push([s, h]);
      process.on(s, h);
    }
    // Node's inspector must never open on SIGUSR1
    const usr1 = () => {};
    handlers.push(['SIGUSR1', usr1]);
    process.on('SIGUSR1', usr1);
    try {
      svc = sup.add({ dir, name: given });
    } catch (e) {
      for (const [s, h] of handlers) process.removeListener(s, h);
      const code = e instanceof SetupError ? e.exitCode : 111;
      process.stderr.write(`vigil supervise: fatal: ${(e as Error).message}\n`);
      resolve(code);
      return;
    }
  });
}
