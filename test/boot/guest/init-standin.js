#!/bin/node
'use strict';
// Stand-in /init for the QEMU test until `vigil init` lands: does the same job in miniature with the shim
// (machine mounts, the fifo trick with a `cat` catch-all logger, the web service, stage 2), then powers off
// when stage 2 exits. Selected with VIGIL_BOOT_INIT=standin.
const fs = require('node:fs');
const s = require('/vigil/native/build/Release/shim.node');
const C = s.constants;
const say = (m) => { try { fs.writeSync(2, `standin: ${m}\n`); } catch { /* no console */ } };
const env = ['PATH=/bin:/usr/bin:/sbin:/usr/sbin', 'VIGIL_BOOT_POWEROFF=exit'];
process.on('SIGCHLD', () => {
  for (const r of s.reap()) {
    say(`reaped ${r.pid} status ${r.status}`);
    if (r.pid === stage2) { s.sync(); s.reboot(C.RB_POWER_OFF); }
  }
});
s.mount('proc', '/proc', 'proc', C.MS_NOSUID | C.MS_NODEV | C.MS_NOEXEC, null);
s.mount('sysfs', '/sys', 'sysfs', C.MS_NOSUID | C.MS_NODEV | C.MS_NOEXEC, null);
s.mount('devtmpfs', '/dev', 'devtmpfs', C.MS_NOSUID, 'mode=0755');
s.mount('tmpfs', '/run', 'tmpfs', C.MS_NOSUID | C.MS_NODEV, 'mode=0755');
say('mounts done');
fs.mkdirSync('/run/uncaught-logs');
s.mkfifo('/run/fifo', 0o600);
const rfd = fs.openSync('/run/fifo', fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
const wfd = fs.openSync('/run/fifo', fs.constants.O_WRONLY);
const con = fs.openSync('/dev/console', fs.constants.O_WRONLY);
s.spawn('/bin/sh', ['sh', '-c', 'exec cat < /run/fifo > /run/uncaught-logs/current'], env, [null, con, con]);
fs.closeSync(rfd);
say('fifo trick done');
s.spawn('/bin/sh', ['sh', '/etc/vigil/service/web/run'], env, [null, wfd, wfd]);
const stage2 = s.spawn('/etc/vigil/rc.init', ['rc.init'], env, [null, con, con], { fifoWrite: '/run/fifo' });
say(`stage 2 pid ${stage2}`);
setInterval(() => {}, 1 << 30); // a signal listener alone does not keep node alive
