// An OTLP/HTTP receiver that accepts and discards: what the traced services export to in the
// tracing benchmark, so the measured cost includes building and sending every span. In its
// own process. argv: port. GET /count answers how many export requests and bytes it received.
import { createServer } from 'node:http';

const [port] = process.argv.slice(2);
let exports = 0;
let bytes = 0;
createServer((req, res) => {
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ exports, bytes }));
    return;
  }
  // Counted, not kept or parsed: the sink should cost the machine as little as it can.
  req.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
  });
  req.on('end', () => {
    exports++;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
}).listen(Number(port), '127.0.0.1');
