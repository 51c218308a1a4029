#!/usr/bin/env node
'use strict';
// Runs the compiled test files (dist/test/**/*.test.js) with node's test runner.
// `npm test -- word ...` runs only the files whose path contains one of the words.
// Helpers live next to the tests but are not *.test.js, so they are never run as tests.
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..', 'dist', 'test');
const files = [];
(function walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.test.js')) files.push(p);
  }
})(root);
const filters = process.argv.slice(2);
const chosen = files.sort().filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)));
if (chosen.length === 0) {
  console.error(`no test file matches ${filters.join(' ')}`);
  process.exit(1);
}
const concurrency = process.env.VIGIL_TEST_CONCURRENCY || '1';
const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...chosen], { stdio: 'inherit' });
process.exit(r.status === null ? 1 : r.status);
