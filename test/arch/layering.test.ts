/**
 * Architecture checks, kept true without a lint plugin:
 * - imports flow one way: cli → init → rc → scanner → logger → supervisor → formats | sys → native;
 * - nothing under src/ uses child_process (the supervisor reaps with waitpid(-1), which would steal
 *   libuv's children; every fork/exec goes through the native shim);
 * - only src/sys/native.ts loads the native addon;
 * - no runtime npm dependency.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..', '..');
const src = path.join(root, 'src');

// A layer may import itself and the layers listed for it.
const ALLOWED: Record<string, string[]> = {
  cli: ['init', 'rc', 'scanner', 'logger', 'supervisor', 'formats', 'sys'],
  init: ['rc', 'scanner', 'logger', 'supervisor', 'formats', 'sys'],
  rc: ['scanner', 'logger', 'supervisor', 'formats', 'sys'],
  scanner: ['logger', 'supervisor', 'formats', 'sys'],
  logger: ['formats', 'sys'],
  supervisor: ['logger', 'formats', 'sys'],
  formats: ['sys'],
  sys: [],
};

function sources(): string[] {
  const out: string[] = [];
  (function walk(d: string) {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) out.push(p);
    }
  })(src);
  return out;
}

function imports(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const re = /(?:from\s+|require\(\s*|import\(\s*)['"]([^'"]+)['"]/g;
  const out: string[] = [];
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(m[1]);
  return out;
}

test('every src file sits in a known layer', () => {
  for (const f of sources()) {
    const layer = path.relative(src, f).split(path.sep)[0];
    assert.ok(layer in ALLOWED || f.endsWith(path.join('src', 'index.ts')), `${path.relative(root, f)} is outside the known layers`);
  }
});

test('imports flow one way between layers', () => {
  const bad: string[] = [];
  for (const f of sources()) {
    const layer = path.relative(src, f).split(path.sep)[0];
    if (!(layer in ALLOWED)) continue;
    for (const spec of imports(f)) {
      if (!spec.startsWith('.')) continue;
      const target = path.resolve(path.dirname(f), spec);
      const rel = path.relative(src, target);
      if (rel.startsWith('..')) {
        bad.push(`${path.relative(root, f)} imports ${spec} (outside src/)`);
        continue;
      }
      const tl = rel.split(path.sep)[0];
      if (tl !== layer && !ALLOWED[layer].includes(tl)) bad.push(`${path.relative(root, f)} (${layer}) imports ${spec} (${tl})`);
    }
  }
  assert.deepEqual(bad, []);
});

test('no child_process and no addon loading outside src/sys/native.ts', () => {
  const bad: string[] = [];
  for (const f of sources()) {
    for (const spec of imports(f)) {
      if (spec === 'child_process' || spec === 'node:child_process') bad.push(`${path.relative(root, f)} imports ${spec}`);
      if (spec.endsWith('.node') && !f.endsWith(path.join('sys', 'native.ts'))) bad.push(`${path.relative(root, f)} loads ${spec}`);
    }
  }
  assert.deepEqual(bad, []);
});

test('no runtime npm dependencies', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { dependencies?: object };
  assert.deepEqual(Object.keys(pkg.dependencies ?? {}), []);
  // and every bare import in src/ is a node: builtin
  const bad: string[] = [];
  for (const f of sources()) {
    for (const spec of imports(f)) {
      if (!spec.startsWith('.') && !spec.startsWith('node:')) bad.push(`${path.relative(root, f)} imports ${spec}`);
    }
  }
  assert.deepEqual(bad, []);
});
