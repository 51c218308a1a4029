/**
 * The wire format between `vigil rc` (the client) and the engine inside the supervising process, over the
 * control socket LIVE/rc.sock (AF_UNIX stream, mode 0600). Pure: encoding and strict validation only.
 *
 * One request per connection: a single line of JSON ending in "\n", at most MAX_REQUEST bytes, sent in one
 * message whose SCM_RIGHTS carry the client's fds 0, 1 and 2 (a oneshot run for this request gets them as its
 * stdin/stdout/stderr, as s6-rc passes its stdio through s6-sudo). After it the client may send
 * `{"t":"cancel"}` (it got SIGINT/SIGTERM). The server answers with lines:
 *   {"t":"msg","level":"info|warning|fatal","text":"..."}   the client prints "PROG: level: text" on stderr
 *   {"t":"out","text":"..."}                                 the client writes text on stdout
 *   {"t":"exit","code":N}                                    the last line; the connection then closes
 * Anything else from a client (not JSON, a wrong field, too long) costs that connection only: one fatal line
 * back (exit 100) and one warning line in the tree's log naming the client's pid.
 */

export const MAX_REQUEST = 64 * 1024;
export const PROTOCOL_VERSION = 1;

export const REQUEST_COMMANDS = ['list', 'listall', 'diff', 'change', 'status', 'reload', 'restart'] as const;
export type RequestCommand = (typeof REQUEST_COMMANDS)[number];

export interface Request {
  v: number;
  cmd: RequestCommand;
  names: string[];
  up: boolean;
  force: boolean;
  prune: boolean;
  all: boolean;
  block: boolean;
  rerun: boolean;
  json: boolean;
  /** ms, 0 = none */
  timeout: number;
  verbosity: number;
  /** -n: a dry run, each transition pretending to take this many ms */
  dryrun: number | null;
}

export type ServerLine =
  | { t: 'msg'; level: 'info' | 'warning' | 'fatal'; text: string }
  | { t: 'out'; text: string }
  | { t: 'exit'; code: number };

export function encode(x: object): Buffer {
  return Buffer.from(`${JSON.stringify(x)}\n`);
}

const BOOLS = ['up', 'force', 'prune', 'all', 'block', 'rerun', 'json'] as const;

function isUint(x: unknown, max = 0xffffffff): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= max;
}

/** A request line → a Request, or the reason it is not one (a short phrase, safe to log). */
export function parseRequest(line: string): Request | string {
  let x: unknown;
  try {
    x = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  if (!x || typeof x !== 'object' || Array.isArray(x)) return 'not an object';
  const o = x as Record<string, unknown>;
  if (o.v !== PROTOCOL_VERSION) return `protocol version ${JSON.stringify(o.v)} (this is ${PROTOCOL_VERSION})`;
  if (typeof o.cmd !== 'string' || !(REQUEST_COMMANDS as readonly string[]).includes(o.cmd)) return 'unknown command';
  if (!Array.isArray(o.names) || o.names.length > 100000 || !o.names.every((n) => typeof n === 'string' && n.length > 0 && n.length < 4096)) {
    return 'bad names';
  }
  for (const b of BOOLS) if (typeof o[b] !== 'boolean') return `bad ${b}`;
  if (!isUint(o.timeout)) return 'bad timeout';
  if (!isUint(o.verbosity, 100)) return 'bad verbosity';
  if (o.dryrun !== null && !isUint(o.dryrun)) return 'bad dryrun';
  return {
    v: PROTOCOL_VERSION, cmd: o.cmd as RequestCommand, names: o.names as string[], up: o.up as boolean, force: o.force as boolean,
    prune: o.prune as boolean, all: o.all as boolean, block: o.block as boolean, rerun: o.rerun as boolean, json: o.json as boolean,
    timeout: o.timeout as number, verbosity: o.verbosity as number, dryrun: o.dryrun as number | null,
  };
}

/** A server line → a ServerLine, or null if it is not one. */
export function parseServerLine(line: string): ServerLine | null {
  let x: unknown;
  try {
    x = JSON.parse(line);
  } catch {
    return null;
  }
  if (!x || typeof x !== 'object') return null;
  const o = x as Record<string, unknown>;
  if (o.t === 'msg' && typeof o.text === 'string' && (o.level === 'info' || o.level === 'warning' || o.level === 'fatal')) {
    return { t: 'msg', level: o.level, text: o.text };
  }
  if (o.t === 'out' && typeof o.text === 'string') return { t: 'out', text: o.text };
  if (o.t === 'exit' && isUint(o.code, 255)) return { t: 'exit', code: o.code };
  return null;
}

/** The live directory's paths (s6-rc's layout where it has one). */
export function livePaths(live: string): { socket: string; servicedirs: string; scandirLink: string } {
  return { socket: `${live}/rc.sock`, servicedirs: `${live}/servicedirs`, scandirLink: `${live}/scandir` };
}
