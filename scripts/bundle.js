#!/usr/bin/env node
'use strict';
// `npm run build`, after tsc: every module of vigil in one file, dist/vigil.js, which bin/vigil loads when it
// exists (tsc's dist/src/ stays: the tests, the benches and the run programs of the early services use it).
// Why: a start of `vigil init` read and compiled ~40 files, one open/stat/read each; one file is one read and
// one compilation unit. Each command module stays lazy (esbuild wraps every CommonJS module and runs it on
// its first require), so `vigil svok` still does not run the logger's or init's code.
const path = require('node:path');
const root = path.resolve(__dirname, '..');
let esbuild;
try {
  esbuild = require('esbuild');
} catch {
  // a production install without dev dependencies: bin/vigil falls back to dist/src/cli/main.js
  process.stderr.write('bundle: esbuild is not installed (a dev dependency): dist/vigil.js not made\n');
  process.exit(0);
}
esbuild.buildSync({
  entryPoints: [path.join(root, 'dist', 'src', 'cli', 'main.js')],
  outfile: path.join(root, 'dist', 'vigil.js'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // the shim is loaded at run time from native/build (a path computed in src/sys/native.ts)
  logLevel: 'warning',
  legalComments: 'none',
});
