/**
 * A run program that only execs a command line (the early getty): `#!node` file calling main({argv}).
 * PATH search happens here, in TypeScript (the shim never searches PATH).
 */
import * as fs from 'node:fs';
import { which } from '../sys/spawn';
import { execReplace } from '../sys/exec';

export function main(cfg: { argv: string[] }): void {
  const file = which(cfg.argv[0]);
  if (file === null) {
    fs.writeSync(2, `vigil init: ${cfg.argv[0]}: not found\n`);
    process.exit(127);
  }
  try {
    execReplace(file, cfg.argv, process.env);
  } catch (e) {
    fs.writeSync(2, `vigil init: unable to exec ${file}: ${(e as Error).message}\n`);
    process.exit(126);
  }
}
