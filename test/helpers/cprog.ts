/**
 * Small C helpers for tests that need speed no shell loop has (making 10 000 orphans in bursts): compiled
 * with gcc once per content, cached under os.tmpdir(); null when gcc is not there (callers fall back).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';

export function compileC(name: string, source: string): string | null {
  const hash = crypto.createHash('sha256').update(source).digest('hex').slice(0, 16);
  const dir = path.join(os.tmpdir(), `vigil-cprog-${hash}`);
  const bin = path.join(dir, name);
  if (fs.existsSync(bin)) return bin;
  try {
    fs.mkdirSync(dir, { recursive: true });
    const src = path.join(dir, `${name}.c`);
    fs.writeFileSync(src, source);
    const tmp = `${bin}.${process.pid}`;
    execFileSync('gcc', ['-O2', '-o', tmp, src], { stdio: 'pipe' });
    fs.renameSync(tmp, bin); // atomic: a concurrent test sees the whole binary or none
    return bin;
  } catch {
    return null;
  }
}

/**
 * `orphan-maker N BURST`: N orphans in bursts of BURST. Each burst is a child that forks BURST grandchildren
 * and exits at once, so they are re-parented to the nearest subreaper or PID 1: the odd ones sleep 50 ms (they
 * die as the reaper's children), the even ones exit at once (often zombies already when re-parented).
 */
export const ORPHAN_MAKER_C = `
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1000, burst = argc > 2 ? atoi(argv[2]) : 100;
  for (int made = 0; made < n; made += burst) {
    pid_t c = fork();
    if (c < 0) return 111;
    if (c == 0) {
      for (int i = 0; i < burst && made + i < n; i++) {
        pid_t g = fork();
        if (g == 0) {
          if (i & 1) { struct timespec ts = {0, 50000000}; nanosleep(&ts, 0); }
          _exit(0);
        }
      }
      _exit(0);
    }
    while (waitpid(c, 0, 0) < 0) {}
  }
  return 0;
}
`;
