#!/usr/bin/env node
'use strict';
/*
 * npm's `install` script: use the prebuilt shim when one fits, compile only when none does.
 *
 * 1. A prebuilt binary for this platform/arch/libc (prebuilds/<target>/vigil.node, in the npm package) is loaded
 *    here, in this node: if it loads, nothing is compiled (no python3, make or g++ needed).
 *    The choice is dist/src/sys/native.js's own (the loader vigil uses at run time), so the two cannot disagree.
 * 2. Otherwise node-gyp builds native/build/Release/shim.node from native/shim.c, against this node's own headers
 *    (<prefix>/include/node) when they are there, as `node-gyp rebuild` always did here.
 * A source checkout has no prebuilds/ (they are made by `npm pack`'s prepack: see README), so `npm ci` in the
 * repository always compiles. VIGIL_BUILD_FROM_SOURCE=1 (or npm's --build-from-source) forces step 2.
 * Fails with one message naming what was tried.
 */
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const say = (m) => console.error(`vigil install: ${m}`);

function prebuilt(tried) {
  const loader = path.join(root, 'dist', 'src', 'sys', 'native.js');
  if (!fs.existsSync(loader)) {
    tried.push(`${loader} (not built: a source checkout, so no prebuilds either)`);
    return null;
  }
  const { prebuildPath, loadFirst } = require(loader);
  const p = prebuildPath();
  if (p === null) {
    tried.push(`no prebuilt binary for ${process.platform}-${process.arch}`);
    return null;
  }
  const got = loadFirst([p], tried);
  if (got) got.shim.clockGettime(got.shim.constants.CLOCK_MONOTONIC); // loaded is not enough: call into it once
  return got ? got.path : null;
}

function nodeGyp() {
  const prefix = path.resolve(path.dirname(fs.realpathSync(process.execPath)), '..');
  const args = ['rebuild', '--directory=native'];
  if (fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
  // npm puts its own node-gyp on PATH for scripts, and names its JS entry in npm_config_node_gyp
  let r = spawnSync('node-gyp', args, { cwd: root, stdio: 'inherit' });
  if (r.error && r.error.code === 'ENOENT' && process.env.npm_config_node_gyp) {
    r = spawnSync(process.execPath, [process.env.npm_config_node_gyp, ...args], { cwd: root, stdio: 'inherit' });
  }
  if (r.error) return `node-gyp could not be started (${r.error.message})`;
  if (r.status !== 0) return `node-gyp ${args.join(' ')} failed (exit ${r.status ?? r.signal})`;
  return null;
}

const tried = [];
const force = /^(1|true)$/.test(process.env.VIGIL_BUILD_FROM_SOURCE || '') || /^(1|true)$/.test(process.env.npm_config_build_from_source || '');
if (!force) {
  const p = prebuilt(tried);
  if (p) {
    say(`using the prebuilt shim ${path.relative(root, p)} (nothing to compile)`);
    process.exit(0);
  }
}
say(force ? 'building the shim from source (asked to)' : `no prebuilt shim fits (${tried.join('; ')}): building it from source`);
const err = nodeGyp();
if (err) {
  const why = force ? 'Asked to build from source' : `No prebuilt shim fits this system (${tried.join('; ')})`;
  say(`${err}. ${why}; building native/shim.c needs python3, make and a C compiler ` +
    '(Debian: apt-get install python3 make g++; Alpine: apk add python3 make g++).');
  process.exit(1);
}
