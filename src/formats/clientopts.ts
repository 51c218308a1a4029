/**
 * Option parsing exactly as skalibs' subgetopt does it for s6's tools, so `vigil svc -wu -T100 -ud DIR`
 * accepts what `s6-svc` accepts and rejects what it rejects:
 * - options come first; the first argument that does not start with `-` (or is `-` alone) ends them;
 *   `--` ends them and is consumed; nothing is permuted;
 * - letters may be grouped (`-uwNr`); a letter followed by `:` in the spec takes an argument, either the
 *   rest of the group (`-T100`) or the next argument (`-T 100`);
 * - an unknown letter or a missing argument is a usage error.
 */
export interface Opt {
  letter: string;
  arg?: string;
}

export interface ParsedOpts {
  opts: Opt[];
  /** the operands after the options */
  rest: string[];
}

/** Throws 'usage' (a string) on any error; the caller turns it into its usage message. */
export function subgetopt(argv: readonly string[], spec: string): ParsedOpts {
  const opts: Opt[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a.length < 2 || a[0] !== '-') break;
    if (a === '--') {
      i++;
      break;
    }
    for (let p = 1; p < a.length; p++) {
      const c = a[p];
      const k = spec.indexOf(c);
      if (c === ':' || k < 0) throw 'usage';
      if (spec[k + 1] === ':') {
        if (p + 1 < a.length) {
          opts.push({ letter: c, arg: a.slice(p + 1) });
        } else if (i + 1 < argv.length) {
          opts.push({ letter: c, arg: argv[++i] });
        } else {
          throw 'usage';
        }
        break;
      }
      opts.push({ letter: c });
    }
  }
  return { opts, rest: argv.slice(i) };
}

/**
 * skalibs uint0_scan: decimal digits only, the whole string, fitting an unsigned int. Returns undefined on
 * anything else (s6 then prints its usage).
 */
export function scanUint(s: string | undefined): number | undefined {
  if (s === undefined || !/^[0-9]+$/.test(s)) return undefined;
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n > 0xffffffff) return undefined;
  return n;
}

/** `--help` as the first argument: every vigil client prints its summary and exits 0. */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv[0] === '--help';
}
