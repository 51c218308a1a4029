// The example's main program (CMD, run from WORKDIR /app): an HTTP server that reloads on SIGHUP and closes
// cleanly on SIGTERM. vigil forwards both to it; its stdout is the container's (docker logs).
'use strict';
const http = require('node:http');

const port = Number(process.env.PORT || 8080);
let generation = 1;
const server = http.createServer((req, res) => res.end(`hello from ${process.cwd()}, config generation ${generation}\n`));
server.listen(port, () => console.log(`server: listening on ${port} in ${process.cwd()} as uid ${process.getuid()}`));
process.on('SIGHUP', () => {
  generation += 1;
  console.log(`server: SIGHUP: configuration reloaded (generation ${generation})`);
});
process.on('SIGTERM', () => {
  console.log('server: SIGTERM: closing');
  server.close(() => process.exit(0));
});
