// An OTLP/HTTP receiver that accepts and discards: what the traced services export to in the
// tracing benchmark, so the measured cost includes building and sending every span. In its
// own process. argv: port. GET /count answers how many spans it received.
import { createServer } from 'node:http';

const [port] = process.argv.slice(2);
let spans = 0;
createServer((req, res) => {
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ spans }));
    return;
  }
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => {
    body += chunk;
  });
  req.on('end', () => {
    // Counted, not parsed: the span ids in the JSON body are one per span.
    spans += body.split('"spanId"').length - 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
}).listen(Number(port), '127.0.0.1');
