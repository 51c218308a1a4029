/**
 * `vigil COMMAND ...`: a table from command name to the module that implements it. Modules are loaded
 * lazily so that `vigil svok` does not pay for the logger or init code. Each module exports
 * `run(argv: string[]): Promise<number> | number` and owns its own `--help`.
 */
type Runner = (argv: string[]) => Promise<number> | number;

interface CommandEntry { module: string; summary: string }

export const COMMANDS: Record<string, CommandEntry> = {
  svscan: { module: './svscan', summary: 'supervise every service directory of a scan directory' },
  supervise: { module: './supervise', summary: 'supervise one service directory' },
  svc: { module: './svc', summary: 'send commands to a supervised service (s6-svc)' },
  svstat: { module: './svstat', summary: "print a service's status (s6-svstat)" },
  svwait: { module: './svwait', summary: 'wait for services to reach a state (s6-svwait)' },
  svok: { module: './svok', summary: 'exit 0 if a service is supervised (s6-svok)' },
  svscanctl: { module: './svscanctl', summary: 'send commands to a scanner (s6-svscanctl)' },
  svdt: { module: './svdt', summary: "print a service's death tally (s6-svdt)" },
  status: { module: './status', summary: 'one row per service of a scan directory' },
  log: { module: './log', summary: 'read lines on stdin and log them (s6-log script language)' },
  logs: { module: './logs', summary: "show a service's logs" },
  init: { module: './init', summary: 'run as PID 1: stage 1, the supervision tree, shutdown' },
  halt: { module: './hpr', summary: 'halt the system' },
  poweroff: { module: './hpr', summary: 'power the system off' },
  reboot: { module: './hpr', summary: 'reboot the system' },
  shutdown: { module: './shutdown', summary: 'plan or cancel a shutdown' },
};

function usage(): string {
  const rows = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(10)} ${c.summary}`);
  return `usage: vigil COMMAND [ARGS...]\n\ncommands:\n${rows.join('\n')}\n\n'vigil COMMAND --help' describes one command.\n`;
}

/**
 * Long-running supervisors are bound by system calls, not by JS speed: without TurboFan they keep ~2 MB
 * less of compiler pages and zone memory (bench/RESULTS.md). `vigil log` is CPU-bound and keeps the JIT.
 */
const NO_OPT = new Set(['svscan', 'supervise', 'init']);

export async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (NO_OPT.has(cmd)) {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    (require('node:v8') as typeof import('node:v8')).setFlagsFromString('--no-opt');
  }
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(usage());
    process.exitCode = cmd ? 0 : 100;
    return;
  }
  const entry = Object.prototype.hasOwnProperty.call(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
  if (!entry) {
    process.stderr.write(`vigil: unknown command: ${cmd}\n${usage()}`);
    process.exitCode = 100;
    return;
  }
  let mod: { run: Runner };
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    mod = require(entry.module) as { run: Runner };
  } catch (e) {
    process.stderr.write(`vigil: unable to load the ${cmd} command (${(e as Error).message.split('\n')[0]}): run npm run build\n`);
    process.exitCode = 111;
    return;
  }
  // halt/poweroff/reboot share a module and learn which one they are from the name
  const args = entry.module === './hpr' ? [cmd, ...rest] : rest;
  try {
    const code = await mod.run(args);
    if (typeof code === 'number') process.exitCode = code;
  } catch (e) {
    process.stderr.write(`vigil ${cmd}: fatal: ${(e as Error).message}\n`);
    process.exitCode = 111;
  }
}
