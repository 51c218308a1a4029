// The s6-log equivalence corpus: for the same input (read from a file, so both programs see the same
// reads) and the same script, Debian's /usr/bin/s6-log and `vigil log` must write byte-identical logdirs
// (file names, count, modes, contents), status files, stdout and stderr, once TAI64N/ISO stamps are masked.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Kind, mkTmp, runWithFile, snapLogdir, mask, maskProg } from './harness';

/** deterministic pseudo-random generator */
function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 0x100000000;
  };
}

function corpus(seed: number, lines: number): Buffer {
  const r = rng(seed);
  const parts: Buffer[] = [];
  const words = ['info', 'error: disk', 'warn', 'DEBUG', 'fatal: x', 'STAT ok', 'GET /index.html 200', '123 numbers', ' leading', 'tab\there', 'éàü utf8'];
  for (let i = 0; i < lines; i++) {
    const k = r();
    let body: Buffer;
    if (k < 0.05) body = Buffer.alloc(0); // empty line
    else if (k < 0.10) body = Buffer.from(`crlf line ${i}\r`); // CRLF
    else if (k < 0.15) body = Buffer.from(Array.from({ length: 1 + Math.floor(r() * 200) }, () => Math.floor(r() * 256)).filter((b) => b !== 10)); // binary (NULs split lines)
    else if (k < 0.18) body = Buffer.from('L'.repeat(100 + Math.floor(r() * 20000))); // long, over -l
    else body = Buffer.from(`${words[Math.floor(r() * words.length)]} ${i} ${'p'.repeat(Math.floor(r() * 120))}`);
    parts.push(body, Buffer.from('\n'));
  }
  parts.push(Buffer.from('final line without newline'));
  return Buffer.concat(parts);
}

interface Case {
  name: string;
  args: string[];
  /** logdirs and status files to compare */
  dirs: string[];
  files?: string[];
}

const CASES: Case[] = [
  { name: 'one logdir, t, n3 s4096', args: ['t', 'n3', 's4096', './a'], dirs: ['a'] },
  { name: 'T stamp, prefix, default limits', args: ['T', 'p:pfx', 'n5', 's8192', './a'], dirs: ['a'] },
  { name: 'line limit 100, several logdirs, regex selections, alerts, stdout, status', args: ['-l', '100', '--',
    '-.*', '+^error', '+fatal', 'perr:', 'n2', 's5000', 'l100', './errors',
    '-.', '+^$', 'p', './empty',
    'f', 't', '1', 'E20', '2', '^50', '=status',
    '-.*', '+.', 'n3', 's4096', 't', './all'], dirs: ['all', 'errors', 'empty'], files: ['status'] },
  { name: 'bracket expressions and classes', args: ['--', '-.*', '+^[[:digit:]]', '+[[:upper:]]{4,}', '+\\<GET\\>', '+[]x[]', 'S12000', 'n100', 's4096', './c', 'f', './d'], dirs: ['c', 'd'] },
  { name: 'no line limit, ^0 status, E0 alerts', args: ['-l', '0', 'E0', '2', '^0', '=st', 'n2', 's4096', './z'], dirs: ['z'], files: ['st'] },
  { name: 'both stamps and a prefix on stdout', args: ['t', 'T', 'pX', '1', 'p', 'T', 't', './o'], dirs: ['o'] },
];

for (const c of CASES) {
  test(`s6-log equivalence: ${c.name}`, { timeout: 60000 }, () => {
    const input = corpus(c.name.length * 7919 + 1, 1500);
    const seen: Record<Kind, unknown> = { s6: null, vigil: null };
    const tmp = mkTmp('vigil-logeq-');
    try {
      for (const kind of ['s6', 'vigil'] as Kind[]) {
        const cwd = path.join(tmp, kind);
        fs.mkdirSync(cwd);
        const r = runWithFile(kind, c.args, input, cwd);
        assert.equal(r.status, 0, `${kind} failed: ${r.stderr.toString()}`);
        seen[kind] = {
          status: r.status,
          stdout: mask(r.stdout.toString('latin1')),
          stderr: maskProg(mask(r.stderr.toString('latin1'))),
          dirs: c.dirs.map((d) => ({ d, files: snapLogdir(path.join(cwd, d)) })),
          files: (c.files ?? []).map((f) => mask(fs.readFileSync(path.join(cwd, f)).toString('latin1'))),
        };
      }
      const s6 = seen.s6 as { status: number; dirs: Array<{ files: unknown[] }> };
      assert.ok(s6.dirs.some((d) => d.files.length > 3), 'the case should produce archives');
      assert.deepEqual(seen.vigil, seen.s6);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
}

test('s6-log equivalence: input through a pipe, one line per read', { timeout: 60000 }, async () => {
  // each line is written once the previous one is on disk, so every read is one line whatever the load
  const { spawn } = await import('node:child_process');
  const { waitFor } = await import('../helpers/wait');
  const tmp = mkTmp('vigil-logeq-pipe-');
  try {
    const lines = Array.from({ length: 150 }, (_, i) => `pipe line ${i} ${'q'.repeat(i % 97)}\n`);
    const snaps: unknown[] = [];
    for (const kind of ['s6', 'vigil'] as Kind[]) {
      const cwd = path.join(tmp, kind);
      fs.mkdirSync(cwd);
      const args = ['-d', '3', 'n1000', 's4096', './p'];
      const [cmd, argv] = kind === 's6' ? ['/usr/bin/s6-log', args] : [process.execPath, [path.resolve(__dirname, '..', '..', '..', 'bin', 'vigil'), 'log', ...args]];
      const p = spawn(cmd as string, argv as string[], { cwd, stdio: ['pipe', 'ignore', 'inherit', 'pipe'] });
      try {
        // -d 3: wait for readiness (logdir open and locked)
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`${kind}: no readiness notification on fd 3`)), 10000);
          (p.stdio[3] as NodeJS.ReadableStream).once('data', () => { clearTimeout(t); resolve(); });
        });
        const d = path.join(cwd, 'p');
        const onDisk = (): number => fs.readdirSync(d).filter((n) => n.startsWith('@') || n === 'current')
          .reduce((sum, n) => { try { return sum + fs.statSync(path.join(d, n)).size; } catch { return sum; } }, 0);
        let sent = 0;
        for (const l of lines) {
          p.stdin!.write(l);
          sent += l.length;
          await waitFor(() => onDisk() === sent, 10000, `${kind}: ${sent} bytes on disk`, 1);
        }
        p.stdin!.end();
        const code = await new Promise<number | null>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`${kind} did not exit after EOF`)), 15000);
          p.on('exit', (c) => { clearTimeout(t); resolve(c); });
        });
        assert.equal(code, 0);
      } finally {
        if (p.exitCode === null) p.kill('SIGKILL');
      }
      snaps.push(snapLogdir(path.join(cwd, 'p')));
    }
    assert.ok((snaps[0] as unknown[]).length > 5, 'rotations happened');
    assert.deepEqual(snaps[1], snaps[0]);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
