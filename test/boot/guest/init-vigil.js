#!/bin/node
'use strict';
// /init of the QEMU test guest: the kernel execs this as PID 1 and it becomes `vigil init --machine`.
// (bin/vigil's `#!/usr/bin/env node` would lose the "init" argument when used as rdinit directly.)
process.env.PATH = process.env.PATH || '/bin:/usr/bin:/sbin:/usr/sbin';
require('/vigil/dist/src/cli/main.js').main(['init', '--machine', '--basedir', '/etc/vigil']);
