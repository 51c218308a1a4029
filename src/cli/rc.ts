/**
 * `vigil rc`: s6-rc's command line (options, messages, exit codes: s6-rc-and-s6-overlay.md §A5) over vigil's
 * service manager, plus `check`, `status`, `reload` and `restart`.
 *
 * Two modes:
 * - with `-s SRC` (repeatable): the source directories alone, no tree running — `check`, `list`, `listall`;
 * - without: the running tree's engine (inside `vigil svscan --rc` or `vigil init`), reached over the control
 *   socket LIVE/rc.sock; LIVE is `-l LIVE`, else $VIGIL_RUNDIR/s6-rc, else /run/s6-rc (src/rc/client.ts).
 */
import { Messages } from '../formats/svclient';
import { scanUint } from '../formats/clientopts';
import { callEngine, liveDir } from '../rc/client';
import { PROTOCOL_VERSION, Request } from '../rc/protocol';

const PROG = 'vigil rc';
const USAGE = 'vigil rc [ -v verbosity ] [ -n dryrunthrottle ] [ -t timeout ] [ -l live ] [ -s srcdir ]... [ -b ] [ -u | -d | -D ] [ -p ] [ -a ] [ -r ] help|list|listall|diff|change|start|stop|check|status|reload|restart [ servicenames... ]';

const HELP = `usage: ${USAGE}

The service manager: s6-rc's commands over vigil's engine, which runs inside the supervising process
(vigil svscan --rc SRC... SCANDIR, or vigil init). Service definitions are s6-rc source directories, read
as they are (no compile step).

Against the running tree (its live directory: -l LIVE, else $VIGIL_RUNDIR/s6-rc, else /run/s6-rc):
  list [names]        the services selected by names (-a: plus those up; -d: the complement)
  listall [names]     the same, closed over dependencies (-d: over dependents)
  diff                longruns whose supervision disagrees with the service manager (+up, -down); exit 1 if any
  change [names]      bring the closure up (-u, default) or down (-d; -D also stops essential services)
  start | stop        change -u | change -d
  status [--json]     every service: type, state, supervision, last transition
  reload [-r]         re-read the sources and apply the difference (-r: re-run edited oneshots that are up)
  restart names       bring the services and their dependents that were up down, then up again
On source directories alone, with no tree (-s SRC, repeatable):
  check               validate as s6-rc-compile does; exit 0, 1 (error in the sources) or 111
  list | listall      as above, from the sources
Options: -v verbosity (default 1; 2 says each transition), -t ms (deadline for the whole change: exit 2),
  -n ms (dry run: say what would be done), -a (add what is up), -p (prune: also bring down everything
  else / up everything else), -b (wait for another change to finish instead of failing).
Exit codes: 0; 1 a transition failed; 2 timed out; 3 unknown name; 4 invalid sources; 100 usage; 111 system.
`;

/** the command line: the request's own fields (src/rc/protocol.ts) plus what only the client uses */
export interface RcOptions
  extends Pick<Request, 'verbosity' | 'timeout' | 'up' | 'force' | 'prune' | 'all' | 'block' | 'rerun' | 'json' | 'names'> {
  dryrun?: number;
  live?: string;
  sources: string[];
  command: string;
}

export const COMMANDS = ['help', 'list', 'listall', 'diff', 'change', 'start', 'stop', 'check', 'status', 'reload', 'restart'];

/** s6-rc's getopt ("v:n:t:l:uDdpaXb") plus -s SRC, -r and --json; the command is the first operand. */
export function parseRcArgs(argv: readonly string[], msg: Messages): RcOptions {
  const args = [...argv];
  let json = false;
  const jsonAt = args.indexOf('--json');
  if (jsonAt >= 0) {
    json = true;
    args.splice(jsonAt, 1);
  }
  const { opts, rest } = msg.getopt(args, 'v:n:t:l:s:uDdpaXbr');
  const o: RcOptions = {
    verbosity: 1, timeout: 0, sources: [], up: true, force: false, prune: false, all: false, block: false, rerun: false,
    json, command: '', names: [],
  };
  for (const { letter, arg } of opts) {
    switch (letter) {
      case 'v': o.verbosity = scanUint(arg) ?? fail(msg); break;
      case 'n': o.dryrun = scanUint(arg) ?? fail(msg); break;
      case 't': o.timeout = scanUint(arg) ?? fail(msg); break;
      case 'l': o.live = arg; break;
      case 's': o.sources.push(arg!); break;
      case 'u': o.up = true; break;
      case 'D': o.force = true; o.up = false; break;
      case 'd': o.up = false; break;
      case 'p': o.prune = true; break;
      case 'a': o.all = true; break;
      case 'b': o.block = true; break;
      case 'r': o.rerun = true; break;
      default: break; // -X (no locks) is accepted and means nothing here
    }
  }
  if (!rest.length) throw msg.usage();
  o.command = rest[0];
  if (!COMMANDS.includes(o.command)) throw msg.usage();
  // `reload -r`: the option may follow the command
  o.names = rest.slice(1).filter((n) => {
    if (o.command === 'reload' && n === '-r') {
      o.rerun = true;
      return false;
    }
    return true;
  });
  if (o.command === 'start' || o.command === 'stop') {
    o.up = o.command === 'start';
    o.command = 'change';
    o.prune = false;
  }
  return o;
}

function fail(msg: Messages): never {
  throw msg.usage();
}

function out(s: string): void {
  process.stdout.write(s);
}

/** `-s SRC...`: check, list, listall on the sources alone (loaded only here: the client stays small). */
async function sourceMode(o: RcOptions, msg: Messages): Promise<number> {
  if (!['check', 'list', 'listall'].includes(o.command)) {
    throw msg.fatal(100, `${o.command} needs a running tree: use it without -s`);
  }
  const { readSources } = await import('../rc/source');
  const { buildGraph, closure, resolveNames, selectedNames, selection } = await import('../rc/graph');
  const set = readSources(o.sources);
  if (o.verbosity >= 1) for (const w of set.warnings) msg.warn(w);
  if (o.verbosity >= 2) for (const w of set.notes) msg.warn(w);
  let problems = set.problems.filter((p) => !p.late);
  let graph = null;
  if (!problems.length) {
    const g = buildGraph(set.defs);
    problems = g.problems;
    graph = g.graph;
  }
  problems = [...problems, ...set.problems.filter((p) => p.late)];
  if (problems.length) {
    for (const p of problems) process.stderr.write(`${msg.prog}: fatal: ${p.text}\n`);
    return problems[0].code;
  }
  if (o.command === 'check') {
    if (o.verbosity >= 2) {
      const n = (t: string) => set.defs.filter((d) => d.type === t).length;
      process.stderr.write(`${msg.prog}: info: ${set.defs.length} services: ${n('longrun')} longruns, ${n('oneshot')} oneshots, ${n('bundle')} bundles\n`);
    }
    return 0;
  }
  const r = resolveNames(graph!, o.names);
  if ('unknown' in r) throw msg.fatal(3, `${r.unknown} is not a recognized identifier`);
  const sel = selection(graph!, r.atoms);
  if (o.command === 'listall') closure(graph!, sel, o.up);
  else if (!o.up) for (let i = 0; i < sel.length; i++) sel[i] ^= 1;
  const names = selectedNames(graph!, sel);
  out(names.map((n) => `${n}\n`).join(''));
  return 0;
}

export function run(argv: string[]): Promise<number> {
  return runAs(PROG, argv);
}

/** `vigil rc` under another program name (`s6-rc`: src/cli/s6rc.ts): its usage line and messages carry it. */
export async function runAs(prog: string, argv: string[]): Promise<number> {
  const msg = new Messages(prog, USAGE.replace(/^vigil rc/, prog));
  if (argv[0] === '--help') {
    out(HELP);
    return 0;
  }
  try {
    const o = parseRcArgs(argv, msg);
    if (o.command === 'help') {
      out(HELP);
      return 0;
    }
    if (o.sources.length) return await sourceMode(o, msg);
    if (o.command === 'check') throw msg.fatal(100, 'check works on source directories: give them with -s');
    if (o.command === 'restart' && !o.names.length) throw msg.usage();
    const req: Request = {
      v: PROTOCOL_VERSION, cmd: o.command as Request['cmd'], names: o.names, up: o.up, force: o.force, prune: o.prune, all: o.all,
      block: o.block, rerun: o.rerun, json: o.json, timeout: o.timeout, verbosity: o.verbosity, dryrun: o.dryrun ?? null,
    };
    return await callEngine(liveDir(o.live), req, prog);
  } catch (e) {
    return msg.report(e);
  }
}
