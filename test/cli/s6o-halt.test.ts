// s6-overlay's halt convention with real processes, under `vigil init --container` as PID 1 of a PID
// namespace: the exitcode file preset to 0, a service's finish script writes its code there the way image
// authors write it (hassio's sshd, HA's mariadb: only if it still holds 0; 128+SIG when killed), then runs
// RUNDIR/s6/basedir/bin/halt (a symlink to compat/s6-overlay/basedir/bin/halt, as the init mode places it);
// init stops the container, and the code read from the file is the one the finish script chose.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bootInit, REPO } from '../helpers/init-ns';
import { exitcodeFile, haltPath, presetExitcode, readExitcode } from '../../src/formats/s6overlay';

const FINISH = `#!/bin/sh
f="$VIGIL_RUNDIR/s6-linux-init-container-results/exitcode"
if test "$1" -eq 256; then code=$((128 + $2)); else code="$1"; fi
if test "$(cat "$f")" = 0; then echo "$code" > "$f"; fi
exec "$VIGIL_RUNDIR/s6/basedir/bin/halt"
`;

for (const [what, run, expected] of [
  ['exits 5', '#!/bin/sh\nexit 5\n', 5],
  ['is killed by SIGTERM', '#!/bin/sh\nkill -TERM $$\nsleep 100\n', 143],
] as const) {
  test(`a service that ${what}: its finish script writes ${expected} into the exitcode file and halts; the container stops`, { timeout: 40000 }, async (t) => {
    const b = await bootInit(t, {
      tree: { 'rc.init!': '#!/bin/sh\nexit 0\n', 'service/critical/run!': run, 'service/critical/finish!': FINISH, 'service/other/run!': '#!/bin/sh\nexec sleep 100000\n' },
      prepare: (rundir) => {
        presetExitcode(rundir);
        fs.mkdirSync(path.dirname(haltPath(rundir)), { recursive: true });
        fs.symlinkSync(path.join(REPO, 'compat', 's6-overlay', 'basedir', 'bin', 'halt'), haltPath(rundir));
      },
    });
    const r = await b.exited(30000);
    assert.equal(r.code, 0, `vigil init ended with an error\n${b.stderr()}`);
    assert.equal(fs.readFileSync(exitcodeFile(b.rundir), 'utf8'), `${expected}\n`);
    assert.equal(readExitcode(b.rundir), expected);
  });
}
