// The HTTP ceiling: a bare Express 5 app answering GET /products/:id with a fixed JSON
// body (the same product catalog serves), and POST /orders with a fixed 201.
// argv: port, body JSON
import express from 'express';

const [port, body] = process.argv.slice(2);
const app = express();
app.disable('x-powered-by');
app.get('/products/:id', (_req, res) => {
  res.type('application/json').send(body);
});
app.post('/orders', express.json(), (_req, res) => {
  res.status(201).type('application/json').send(body);
});
app.get('/health/live', (_req, res) => {
  res.json({ status: 'ok' });
});
app.listen(Number(port), '127.0.0.1');
