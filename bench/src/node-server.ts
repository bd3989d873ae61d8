// A third ceiling: the same constant JSON from Node's own `node:http` server, no framework —
// what the machine and the load generator can do, so the bench can say what Express itself
// costs a request (Express 5 is the services' base, fixed by the design). Same headers as
// bare Express's answer except its ETag. argv: port, body JSON
import { createServer } from 'node:http';

const [port, body] = process.argv.slice(2);
const length = String(Buffer.byteLength(body ?? ''));
createServer((req, res) => {
  if (req.url?.startsWith('/products/')) {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': length });
    res.end(body);
  } else if (req.url === '/health/live') {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    res.end('{"status":"ok"}');
  } else {
    res.writeHead(404).end();
  }
}).listen(Number(port), '127.0.0.1');
