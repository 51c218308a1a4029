'use strict';
// One GET to the guest's web service; prints the reply and exits 0, or exits 1 on any error (bounded: 2 s).
const http = require('node:http');
const req = http.get('http://127.0.0.1:8080/ping', (res) => {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (d) => { body += d; });
  res.on('end', () => {
    if (res.statusCode === 200 && body.startsWith('vigil-web')) { process.stdout.write(body.trim() + '\n'); process.exit(0); }
    process.stdout.write(`bad reply ${res.statusCode}: ${body}\n`); process.exit(1);
  });
});
req.setTimeout(2000, () => { req.destroy(new Error('timeout')); });
req.on('error', (e) => { process.stdout.write(`${e.code || e.message}\n`); process.exit(1); });
