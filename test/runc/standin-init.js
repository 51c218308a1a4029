'use strict';
// Stand-in container init for the runc tests until `vigil init --container` lands (VIGIL_RUNC_INIT=standin):
// runs CMD with the shim, forwards TERM to it, exits with CMD's status (128+N for signal N, 127 if CMD
// cannot be executed).
const fs = require('node:fs');
const path = require('node:path');
const s = require(path.join(__dirname, '..', '..', 'native', 'build', 'Release', 'shim.node'));
const i = process.argv.indexOf('--');
const cmd = i < 0 ? [] : process.argv.slice(i + 1);
if (cmd.length === 0) process.exit(0);
const env = Object.entries(process.env).map(([k, v]) => `${k}=${v}`);
const file = cmd[0].includes('/') ? cmd[0]
  : (process.env.PATH || '/usr/bin:/bin').split(':').map((d) => path.join(d, cmd[0])).find((p) => fs.existsSync(p)) || cmd[0];
let pid;
try {
  pid = s.spawn(file, cmd, env, [0, 1, 2], { setsid: false });
} catch (e) {
  process.stderr.write(`standin-init: ${cmd[0]}: ${e.message}\n`);
  process.exit(127);
}
process.on('SIGTERM', () => s.kill(pid, 15));
process.on('SIGCHLD', () => {
  for (const r of s.reap()) {
    if (r.pid !== pid) continue;
    const sig = r.status & 0x7f;
    process.exit(sig ? 128 + sig : (r.status >> 8) & 0xff);
  }
});
setInterval(() => {}, 1 << 30);
