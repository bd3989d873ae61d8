import { z } from 'zod';

const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;

const flag = z
  .enum(['true', 'false', ''])
  .default('false')
  .transform((v) => v === 'true');

/**
 * The OpenTelemetry variables the services read (the SDK's standard names, so any
 * OpenTelemetry tooling or operator already knows them). Read before anything else loads,
 * so they are validated here rather than with the service's own config.
 */
export const tracingEnv = z.object({
  /** `true`: no spans at all (no trace headers answered either). Default `false`: tracing on. */
  OTEL_SDK_DISABLED: flag,
  /** Which traces are recorded. Default `parentbased_always_on`: every trace, and a caller's decision is kept. */
  OTEL_TRACES_SAMPLER: z.enum(SAMPLERS).default('parentbased_always_on'),
  /** The ratio for the `*traceidratio` samplers, 0..1. Default 1. */
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).default(1),
  /** OTLP/HTTP base URL (`/v1/traces` is appended), e.g. the Collector's `http://otel-collector:4318`. Unset: spans are made (trace headers, ids in errors) but not exported. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  /** A full traces URL, used as is (wins over OTEL_EXPORTER_OTLP_ENDPOINT). */
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
});
export type TracingConfig = z.output<typeof tracingEnv>;

/** The validated tracing variables; throws naming the variable and the rule. */
export const loadTracingConfig = (env: NodeJS.ProcessEnv): TracingConfig => {
  const parsed = tracingEnv.safeParse(env);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new Error(`Invalid configuration: ${issue.path.join('.')}: ${issue.message}`);
};
