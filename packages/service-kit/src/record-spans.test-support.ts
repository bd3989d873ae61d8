import { context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { afterAll, beforeAll, beforeEach } from 'vitest';

/**
 * For a test file: the official SDK registered as a service's `startTracing` does
 * (AsyncLocalStorage context, W3C propagation), recording into memory — emptied before each
 * test, unregistered after the file. Returns where the finished spans are.
 */
export const recordSpans = (): InMemorySpanExporter => {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  beforeAll(() => {
    provider.register();
  });
  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
  });
  beforeEach(() => exporter.reset());
  return exporter;
};
