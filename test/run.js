#!/usr/bin/env node
'use strict';
// Runs the compiled test files (dist/test/**/*.test.js) with node's test runner, one file per process
// group, each with a hard deadline: a file whose tests pass but whose process never exits (a handle left
// open) or that hangs is killed and counted as failed, so the suite always ends.
// `npm test -- word ...` runs only the files whose path contains one of the words.
// Helpers live next to the tests but are not *.test.js, so they are never run as tests.
// The counts come from the TAP reporter's closing `# pass N` / `# fail N` lines. The reporter is named
// explicitly: Node 20 defaults to TAP when stdout is not a terminal, Node 22+ to its own `spec` summary
// (which this script cannot read). A file whose counts cannot be read is counted as failed, loudly.
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');

const root = path.resolve(__dirname, '..', 'dist', 'test');
const FILE_DEADLINE_MS = Number(process.env.VIGIL_TEST_FILE_DEADLINE_MS || 420000);
const TEST_TIMEOUT_MS = Number(process.env.VIGIL_TEST_TIMEOUT_MS || 240000);

const files = [];
(function walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.test.js')) files.push(p);
  }
})(root);
const filters = process.argv.slice(2);
// words match the path under dist/test/ (not the checkout's own path, which may contain any word)
const chosen = files.sort().filter((f) => filters.length === 0 || filters.some((w) => path.relative(root, f).includes(w)));
if (chosen.length === 0) {
  console.error(`no test file matches ${filters.join(' ')}`);
  process.exit(1);
}

function runFile(file) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--test', '--test-reporter=tap', `--test-timeout=${TEST_TIMEOUT_MS}`, file], {
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: true,
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      process.stdout.write(d);
    });
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, FILE_DEADLINE_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const num = (k) => {
        const m = out.match(new RegExp(`^# ${k} (\\d+)$`, 'm'));
        return m ? Number(m[1]) : null;
      };
      const rel = path.relative(root, file);
      const counts = { tests: num('tests'), pass: num('pass'), fail: num('fail'), cancelled: num('cancelled'), skipped: num('skipped'), todo: num('todo') };
      let pass = counts.pass ?? 0;
      let fail = (counts.fail ?? 0) + (counts.cancelled ?? 0);
      const skipped = (counts.skipped ?? 0) + (counts.todo ?? 0);
      if (killed) {
        console.log(`# ${rel}: killed after ${FILE_DEADLINE_MS} ms (hung or a handle left open)`);
        fail += 1;
      } else if (counts.tests === null || counts.pass === null || counts.fail === null) {
        console.log(`# ${rel}: FAILED: no TAP summary (# tests/# pass/# fail) in its output; exit ${signal || code}. ` +
          `Is the tap reporter in use (${process.version})?`);
        fail += 1;
      } else if (counts.tests === 0) {
        console.log(`# ${rel}: FAILED: ran no test`);
        fail += 1;
      } else if ((code !== 0 || signal) && fail === 0) {
        console.log(`# ${rel}: exited ${signal || code} with no failing test reported`);
        fail += 1;
      }
      resolve({ rel, pass, fail, skipped, ms: Date.now() - t0 });
    });
  });
}

(async () => {
  const results = [];
  for (const f of chosen) results.push(await runFile(f));
  const pass = results.reduce((a, r) => a + r.pass, 0);
  const fail = results.reduce((a, r) => a + r.fail, 0);
  const skipped = results.reduce((a, r) => a + r.skipped, 0);
  console.log('\n# per file (ms, passed, failed)');
  for (const r of results) console.log(`# ${String(r.ms).padStart(7)}  ${String(r.pass).padStart(3)}  ${String(r.fail).padStart(2)}  ${r.rel}`);
  const failed = results.filter((r) => r.fail > 0).map((r) => r.rel);
  if (failed.length) console.log(`# failing files: ${failed.join(', ')}`);
  console.log(`\n# node ${process.version}`);
  console.log(`tests: ${pass} passed, ${fail} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exit(fail > 0 ? 1 : 0);
})();
