/**
 * `vigil COMMAND ...`: a table from command name to the module that implements it. Modules are loaded
 * lazily so that `vigil svok` does not pay for the logger or init code. Each module exports
 * `run(argv: string[]): Promise<number> | number` and owns its own `--help`.
 */
type Runner = (argv: string[]) => Promise<number> | number;

interface CommandEntry { load: () => { run: Runner }; summary: string }

/*
 * Each loader is a static require() inside a function: only the command run is loaded, and a bundler (the
 * single file dist/vigil.js made by `npm run build`) sees every module while keeping each one lazy.
 */
/* eslint-disable @typescript-eslint/no-var-requires */
export const COMMANDS: Record<string, CommandEntry> = {
  svscan: { load: () => require('./svscan'), summary: 'supervise every service directory of a scan directory' },
  supervise: { load: () => require('./supervise'), summary: 'supervise one service directory' },
  svc: { load: () => require('./svc'), summary: 'send commands to a supervised service (s6-svc)' },
  svstat: { load: () => require('./svstat'), summary: "print a service's status (s6-svstat)" },
  svwait: { load: () => require('./svwait'), summary: 'wait for services to reach a state (s6-svwait)' },
  svok: { load: () => require('./svok'), summary: 'exit 0 if a service is supervised (s6-svok)' },
  svscanctl: { load: () => require('./svscanctl'), summary: 'send commands to a scanner (s6-svscanctl)' },
  reexec: { load: () => require('./reexec'), summary: 're-execute a running vigil svscan/init, services kept running' },
  svdt: { load: () => require('./svdt'), summary: "print a service's death tally (s6-svdt)" },
  status: { load: () => require('./status'), summary: 'one row per service of a scan directory' },
  log: { load: () => require('./log'), summary: 'read lines on stdin and log them (s6-log script language)' },
  logs: { load: () => require('./logs'), summary: "show a service's logs" },
  init: { load: () => require('./init'), summary: 'run as PID 1: stage 1, the supervision tree, shutdown' },
  halt: { load: () => require('./hpr'), summary: 'halt the system' },
  poweroff: { load: () => require('./hpr'), summary: 'power the system off' },
  reboot: { load: () => require('./hpr'), summary: 'reboot the system' },
  shutdown: { load: () => require('./shutdown'), summary: 'plan or cancel a shutdown' },
  rc: { load: () => require('./rc'), summary: 'the service manager: dependencies, oneshots, bundles (s6-rc)' },
  's6-rc': { load: () => require('./s6rc'), summary: 'vigil rc under s6-rc\'s name and messages (s6-overlay\'s scripts call it)' },
  'with-contenv': { load: () => require('./contenv'), summary: 'run a program in the container environment (s6-overlay)' },
  printcontenv: { load: () => require('./contenv'), summary: "print a variable of the container environment (s6-overlay)" },
};
/* eslint-enable @typescript-eslint/no-var-requires */

/** halt/poweroff/reboot (and with-contenv/printcontenv) share a module and learn which one they are from the name */
const BY_NAME = new Set(['halt', 'poweroff', 'reboot', 'with-contenv', 'printcontenv']);

function usage(): string {
  const rows = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(10)} ${c.summary}`);
  return `usage: vigil COMMAND [ARGS...]\n\ncommands:\n${rows.join('\n')}\n\n'vigil COMMAND --help' describes one command.\n`;
}

/**
 * Long-running supervisors are bound by system calls, not by JS speed (bench/PROFILE.md: JavaScript is under
 * a tenth of a start-up burst): without TurboFan they keep less of the compiler's pages and zone memory.
 * `vigil log` is CPU-bound and keeps the JIT. VIGIL_V8_OPT=1 keeps it on (the bench measures both).
 */
const NO_OPT = new Set(['svscan', 'supervise', 'init']);

export async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (NO_OPT.has(cmd) && process.env.VIGIL_V8_OPT !== '1') {
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
    mod = entry.load();
  } catch (e) {
    process.stderr.write(`vigil: unable to load the ${cmd} command (${(e as Error).message.split('\n')[0]}): run npm run build\n`);
    process.exitCode = 111;
    return;
  }
  const args = BY_NAME.has(cmd) ? [cmd, ...rest] : rest;
  try {
    const code = await mod.run(args);
    if (typeof code === 'number') process.exitCode = code;
  } catch (e) {
    process.stderr.write(`vigil ${cmd}: fatal: ${(e as Error).message}\n`);
    process.exitCode = 111;
  }
}
