'use strict';
// A tiny HTTP service for the QEMU guest: answers every request with a line naming its pid.
const http = require('node:http');
http.createServer((req, res) => {
  res.end(`vigil-web pid=${process.pid} url=${req.url}\n`);
}).listen(8080, '127.0.0.1', () => console.log('web: listening on 127.0.0.1:8080'));
