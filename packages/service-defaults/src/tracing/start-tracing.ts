import { randomBytes } from 'node:crypto';
import { context, propagation, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  NodeTracerProvider,
  ParentBasedSampler,
  type Sampler,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-node';
import { BullMQOtel } from 'bullmq-otel';
import { QuietSampler } from './quiet-sampler.js';
import { loadTracingConfig, type TracingConfig } from './tracing-env.js';

/** What a started tracer gives the rest of the process. */
export interface Tracing {
  service: string;
  /** `<service>-<8 hex>`: the ServiceHost's instance id too, so spans, logs and the registry name one instance alike. */
  instanceId: string;
  /** BullMQ's telemetry adapter: queues put the trace context in each job, workers open one span per attempt. */
  bullmq: BullMQOtel;
  /** Whether spans leave the process (an OTLP endpoint is set). */
  exporting: boolean;
  /** Export what is buffered and stop (the last shutdown step). */
  shutdown(): Promise<void>;
}

let active: Tracing | undefined;

/** The tracer {@link startTracing} started in this process, if any. */
export const activeTracing = (): Tracing | undefined => active;

const samplerFor = ({ OTEL_TRACES_SAMPLER: name, OTEL_TRACES_SAMPLER_ARG: ratio }: TracingConfig): Sampler => {
  const root = name.endsWith('always_off')
    ? new AlwaysOffSampler()
    : name.endsWith('traceidratio')
      ? new TraceIdRatioBasedSampler(ratio)
      : new AlwaysOnSampler();
  return new QuietSampler(name.startsWith('parentbased_') ? new ParentBasedSampler({ root }) : root);
};

/**
 * Start OpenTelemetry for this process: the official Node SDK's tracer provider
 * (AsyncLocalStorage context, W3C `traceparent` propagation), the `fetch` client and
 * Postgres instrumentations, and BullMQ's telemetry adapter (service-kit opens the HTTP
 * server spans and order's client spans to catalog with the API); spans batched to
 * `OTEL_EXPORTER_OTLP_ENDPOINT` over OTLP/HTTP when it is set.
 *
 * Call it before anything else is imported (each service's `main.ts` imports its
 * `tracing.ts` first): the Postgres instrumentation patches `pg` as it loads. A bad
 * variable exits 1 with one line naming it, like the service's own config.
 */
export const startTracing = (service: string, env: NodeJS.ProcessEnv = process.env): Tracing | undefined => {
  let config: TracingConfig;
  try {
    config = loadTracingConfig(env);
  } catch (error) {
    process.stderr.write(`${service}: ${(error as Error).message}\n`);
    process.exit(1);
  }
  if (config.OTEL_SDK_DISABLED) return undefined;
  const instanceId = `${service}-${randomBytes(4).toString('hex')}`;
  const exporting = Boolean(config.OTEL_EXPORTER_OTLP_ENDPOINT ?? config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  // The exporter reads the endpoint and OTEL_EXPORTER_OTLP_HEADERS (a receiver's token) from the environment itself.
  const spanProcessors: SpanProcessor[] = exporting
    ? [new BatchSpanProcessor(new OTLPTraceExporter(), { scheduledDelayMillis: 1_000, maxExportBatchSize: 256 })]
    : [];
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      'service.name': service,
      'service.namespace': 'storefront',
      'service.instance.id': instanceId,
    }),
    sampler: samplerFor(config),
    spanProcessors,
  });
  provider.register();
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      // Only inside a trace: a background fetch (the identity provider's keys) starts none.
      // A webhook URL may carry a credential in its query: spans keep the origin and path only.
      new UndiciInstrumentation({
        requireParentforSpans: true,
        startSpanHook: (request) => ({
          'url.full': `${request.origin}${request.path.split('?')[0]}`,
          'url.query': request.path.includes('?') ? '[redacted]' : '',
        }),
      }),
      // Statements without their values; only inside a trace, so the outbox's idle polls start none.
      new PgInstrumentation({ requireParentSpan: true, ignoreConnectSpans: true }),
    ],
  });
  active = {
    service,
    instanceId,
    bullmq: new BullMQOtel({ tracerName: 'bullmq' }),
    exporting,
    shutdown: async () => {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
      active = undefined;
    },
  };
  return active;
};
