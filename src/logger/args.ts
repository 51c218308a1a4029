/**
 * s6-log's command line: `[-d notif] [-q|-v] [-b] [-p] [-l linelimit] [--] script...`, parsed as skalibs'
 * getopt does: clustered flags (-bp), -l N or -lN, `--` ends the options, the first argument that does
 * not start with '-' (or is '-' alone) starts the script. A script directive that starts with '-' (a
 * deselection) must therefore come after `--`, as with s6-log.
 */
export interface LogArgs {
  /** -d: fd for the readiness newline, -1 if none */
  notif: number;
  verbosity: number;
  blocking: boolean;
  protect: boolean;
  lineLimit: number;
  script: string[];
}

/** null = usage error (exit 100) */
export function parseLogArgs(argv: string[]): LogArgs | null {
  const o: LogArgs = { notif: -1, verbosity: 1, blocking: false, protect: false, lineLimit: 8192, script: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { i++; break; }
    if (a.length < 2 || a[0] !== '-') break;
    for (let j = 1; j < a.length; j++) {
      const c = a[j];
      if (c === 'q') { if (o.verbosity) o.verbosity--; }
      else if (c === 'v') o.verbosity++;
      else if (c === 'b') o.blocking = true;
      else if (c === 'p') o.protect = true;
      else if (c === 'd' || c === 'l') {
        let v = a.slice(j + 1);
        if (v === '') {
          if (i + 1 >= argv.length) return null;
          v = argv[++i];
        }
        if (!/^[0-9]+$/.test(v)) return null;
        const n = Number(v);
        if (c === 'd') o.notif = n;
        else o.lineLimit = n;
        break;
      } else return null;
    }
  }
  o.script = argv.slice(i);
  if (o.script.length === 0) return null;
  return o;
}
