// A second ceiling: the same constant JSON, served through service-kit's full HTTP stack
// (helmet's headers, request ids and request logs, the HTTP histogram, body parser, problem+json) but
// without any data access. The gap to the bare app is what the stack costs; the gap
// from here to catalog is what the cache path costs. argv: port, body JSON
import { createLogger, createMetrics, createServiceApp, Health } from '@storefront/service-kit';

const [port, body] = process.argv.slice(2);
const app = createServiceApp({
  // Logging as the services do (info, one line per request, redaction on); stdout goes nowhere.
  logger: createLogger({ service: 'stack-ceiling', level: 'info' }),
  metrics: createMetrics('stack-ceiling'),
  health: new Health(),
  routes: (a) => {
    a.get('/products/:id', (_req, res) => {
      res.setHeader('x-cache', 'l1');
      res.type('application/json').send(body);
    });
  },
});
app.listen(Number(port), '127.0.0.1');
