// The engine as a library, in this process (as the supervisor uses it): feed()/end()/stop() semantics,
// back-pressure and the memory cap, no timer while healthy and exactly one per stuck logdir, and the
// in-supervisor path (log-dir / log-script declaration, a real pipe read by InLog's PipeFeeder, the copy).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mkTmp } from './harness';
import { waitFor } from '../helpers/wait';
import { LogEngine } from '../../src/logger/engine';
import { ScriptError } from '../../src/logger/script';
import { LogdirFatal } from '../../src/logger/logdir';
import { readLogDeclaration, LogDeclarationError } from '../../src/logger/declaration';
import { InLog } from '../../src/scanner/inlog';
import { native } from '../../src/sys/native';

const timeouts = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

test('feed(): lines end at \\n and NUL, -l splits, a partial last line is dropped at end()', async (t) => {
  const tmp = mkTmp('vigil-eng-');
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const out: Buffer[] = [];
  const e = new LogEngine({ script: ['./d', '1'], lineLimit: 48, cwd: tmp, onStdout: (b) => { out.push(b); return true; } });
  const input = Buffer.concat([Buffer.from('a\0b\n'), Buffer.from('x'.repeat(100)), Buffer.from('\nhalf')]);
  // byte by byte: the result must not depend on how the input is cut
  for (let i = 0; i < input.length; i++) assert.equal(e.feed(input, i, i + 1), 1);
  e.end();
  await e.close();
  const want = `a\nb\n${'x'.repeat(48)}\n${'x'.repeat(48)}\nxxxx\n`;
  assert.equal(fs.readFileSync(path.join(tmp, 'd', 'current'), 'latin1'), want);
  assert.equal(Buffer.concat(out).toString('latin1'), want);
  assert.equal((fs.statSync(path.join(tmp, 'd', 'current')).mode & 0o777).toString(8), '744');
  assert.equal(e.feed(Buffer.from('late\n')), 0, 'no input after close');
});

test('stop() finishes the half-read line and then takes nothing more', async (t) => {
  const tmp = mkTmp('vigil-eng-');
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const e = new LogEngine({ script: ['./d'], cwd: tmp });
  e.feed(Buffer.from('one\ntw'));
  e.stop();
  assert.equal(e.finishingLine, true);
  assert.equal(e.readSize(), 1);
  assert.equal(e.feed(Buffer.from('o\nthree\n')), 2, 'only the rest of the line is taken');
  assert.equal(e.inputClosed, true);
  await e.close();
  assert.equal(fs.readFileSync(path.join(tmp, 'd', 'current'), 'latin1'), 'one\ntwo\n');
  // stop() with nothing pending closes the input at once
  const e2 = new LogEngine({ script: ['./d2'], cwd: tmp });
  e2.feed(Buffer.from('x\n'));
  e2.stop();
  assert.equal(e2.inputClosed, true);
  await e2.close();
});

test('errors: a bad script throws ScriptError, a locked logdir LogdirFatal (and releases what it took)', async (t) => {
  const tmp = mkTmp('vigil-eng-');
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  assert.throws(() => new LogEngine({ script: ['n5', 'x'], cwd: tmp }), (e: unknown) => e instanceof ScriptError && /unrecognized directive: x/.test(e.message));
  const a = new LogEngine({ script: ['./d'], cwd: tmp });
  assert.throws(() => new LogEngine({ script: ['./free', './d'], cwd: tmp }), (e: unknown) => e instanceof LogdirFatal && /unable to lock \.\/d\/lock/.test(e.message));
  // ./free was opened and locked before ./d failed: it must have been released
  const b = new LogEngine({ script: ['./free'], cwd: tmp });
  await b.close();
  await a.close();
});

test('no timer while healthy; one timer per stuck logdir; nothing lost once it is unstuck', async (t) => {
  const tmp = mkTmp('vigil-eng-');
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const warnings: string[] = [];
  const base = timeouts();
  const e = new LogEngine({ script: ['r50', 's4096', 'l0', './a', './b'], cwd: tmp, onWarning: (m) => warnings.push(m) });
  e.feed(Buffer.from('hello\n'));
  assert.equal(timeouts(), base, 'a healthy engine holds no timer');
  // make ./a's rotation fail: a non-empty directory named previous makes rename(current, previous) fail
  fs.mkdirSync(path.join(tmp, 'a', 'previous'));
  fs.writeFileSync(path.join(tmp, 'a', 'previous', 'x'), '');
  let sent = '';
  for (let i = 0; i < 200; i++) {
    const l = `line ${i} ${'p'.repeat(30)}\n`;
    sent += l;
    e.feed(Buffer.from(l));
  }
  assert.ok(warnings.some((w) => /unable to rename \.\/a\/current to \.\/a\/previous/.test(w)), warnings.join('\n'));
  assert.equal(timeouts(), base + 1, 'exactly one retry timer for the stuck logdir');
  assert.ok(e.buffered() > 0, 'the lines wait in memory');
  fs.rmSync(path.join(tmp, 'a', 'previous'), { recursive: true });
  await waitFor(() => e.buffered() === 0, 5000, 'the retry to write everything');
  assert.equal(timeouts(), base, 'no timer once unstuck');
  await e.close();
  const all = (d: string): string => fs.readdirSync(path.join(tmp, d)).filter((n) => n.startsWith('@')).sort()
    .concat('current').map((n) => fs.readFileSync(path.join(tmp, d, n), 'latin1')).join('');
  assert.equal(all('a'), `hello\n${sent}`);
  assert.equal(all('b'), `hello\n${sent}`);
});

test('back-pressure: wantsInput() is false as soon as a logdir holds unwritten output (with or without -b), onDrain when written', async (t) => {
  const tmp = mkTmp('vigil-eng-');
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  for (const blocking of [false, true]) {
    let drained = 0;
    const cap = 20000;
    const e = new LogEngine({ script: ['r50', 's4096', 'l0', `./${blocking}`], cwd: tmp, blocking, maxBuffered: cap, onDrain: () => drained++ });
    fs.mkdirSync(path.join(tmp, String(blocking), 'previous'));
    fs.writeFileSync(path.join(tmp, String(blocking), 'previous', 'x'), '');
    let fed = 0;
    while (e.wantsInput() && fed < 1e6) {
      const chunk = Buffer.from('z'.repeat(99) + '\n');
      e.feed(chunk);
      fed += chunk.length;
    }
    // what a killed logger would lose stays in the pipe: no reading while the logdir is stuck, cap or not
    assert.ok(fed < 4096 + 200, `${blocking ? '-b' : 'no -b'}: stopped right after the rotation got stuck (fed ${fed})`);
    assert.equal(drained, 0);
    fs.rmSync(path.join(tmp, String(blocking), 'previous'), { recursive: true });
    await waitFor(() => drained > 0, 5000, 'onDrain');
    assert.equal(e.wantsInput(), true);
    await e.close();
  }
});

test('in-supervisor logging (InLog, in this process): log-dir + log-script, a real pipe, the [name] copy, rotate(), closeAll()', async (t) => {
  const tmp = mkTmp('vigil-eng-svc-');
  // the copy's destination: a pipe whose read end we drain (InLog writes to a fresh description of copyW)
  const [copyR, copyW] = native().pipe(true);
  t.after(() => {
    for (const fd of [copyR, copyW]) { try { native().close(fd); } catch { /* closed */ } }
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  const svc = path.join(tmp, 'web');
  fs.mkdirSync(svc);
  assert.equal(readLogDeclaration(svc), null, 'no log-dir: no in-supervisor logging');
  fs.writeFileSync(path.join(svc, 'log-dir'), '../logs/web\n');
  fs.writeFileSync(path.join(svc, 'log-script'), '# web logs\n-b\nn5\ns4096\n\n-^DEBUG\nt\n');
  const decl = readLogDeclaration(svc)!;
  assert.equal(decl.logdir, path.join(tmp, 'logs', 'web'));
  assert.equal(decl.blocking, true);
  assert.deepEqual(decl.script, ['n5', 's4096', '-^DEBUG', 't', path.join(tmp, 'logs', 'web')]);
  const warnings: string[] = [];
  const inlog = new InLog({ log: (l) => warnings.push(l), copyFd: copyW });
  const hooks = inlog.scannerHooks();
  hooks.onDiscover('web', svc, 'k1', false);
  const w = hooks.stdoutFor('web', svc, 'k1');
  assert.ok(w !== undefined && w >= 0, 'the service gets the write end of its log pipe');
  let copied = '';
  const buf = Buffer.alloc(4096);
  const readCopy = (): string => {
    for (let r = native().read(copyR, buf, 0, buf.length); r > 0; r = native().read(copyR, buf, 0, buf.length)) copied += buf.toString('latin1', 0, r);
    return copied;
  };
  fs.writeSync(w!, 'hello\nDEBUG noise\nworld\n');
  const cur = path.join(decl.logdir, 'current');
  await waitFor(() => fs.existsSync(cur) && fs.readFileSync(cur, 'latin1').includes('world'), 5000, 'lines in the logdir');
  assert.match(fs.readFileSync(cur, 'latin1'), /^@[0-9a-f]{24} hello\n@[0-9a-f]{24} world\n$/);
  await waitFor(() => readCopy().includes('world'), 5000, 'the copy');
  assert.equal(copied, '[web] hello\n[web] DEBUG noise\n[web] world\n');
  assert.equal(inlog.rotate('web'), 1);
  await waitFor(() => fs.readdirSync(decl.logdir).some((n) => n.endsWith('.s')), 5000, 'an archive after rotate()');
  fs.writeSync(w!, 'last\npartial');
  await waitFor(() => fs.readFileSync(cur, 'latin1').includes('last'), 5000, 'last line');
  await inlog.closeAll(1000);
  assert.equal((fs.statSync(cur).mode & 0o777).toString(8), '744');
  assert.doesNotMatch(fs.readFileSync(cur, 'latin1'), /partial/, 'a partial last line is dropped, as s6-log at EOF');
  assert.deepEqual(warnings, []);
  // bad declarations are one-line errors
  fs.writeFileSync(path.join(svc, 'log-script'), 'n5\nbogus\n');
  assert.throws(() => readLogDeclaration(svc), (e: unknown) => e instanceof LogDeclarationError && e.message === 'log-script: unrecognized directive: bogus');
});
