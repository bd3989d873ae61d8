import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { AlwaysOnSampler, SamplingDecision } from '@opentelemetry/sdk-trace-node';
import { describe, expect, it } from 'vitest';
import { QuietSampler } from './quiet-sampler.js';
import { loadTracingConfig } from './tracing-env.js';

describe('tracing config', () => {
  it('defaults to on, every trace, not exported', () => {
    expect(loadTracingConfig({})).toEqual({
      OTEL_SDK_DISABLED: false,
      OTEL_TRACES_SAMPLER: 'parentbased_always_on',
      OTEL_TRACES_SAMPLER_ARG: 1,
    });
  });

  it.each([
    [{ OTEL_TRACES_SAMPLER: 'sometimes' }, 'OTEL_TRACES_SAMPLER'],
    [{ OTEL_TRACES_SAMPLER_ARG: '1.5' }, 'OTEL_TRACES_SAMPLER_ARG'],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://collector' }, 'OTEL_EXPORTER_OTLP_ENDPOINT'],
    [{ OTEL_SDK_DISABLED: 'yes' }, 'OTEL_SDK_DISABLED'],
  ])('refuses %o, naming the variable', (env, name) => {
    expect(() => loadTracingConfig(env)).toThrow(new RegExp(`^Invalid configuration: ${name}: `));
  });
});

describe('QuietSampler', () => {
  const sampler = new QuietSampler(new AlwaysOnSampler());
  const decide = (name: string, parent = ROOT_CONTEXT) =>
    sampler.shouldSample(parent, 'a'.repeat(32), name, SpanKind.INTERNAL, {}, []).decision;

  it('starts no trace for BullMQ housekeeping', () => {
    for (const name of [
      'getNextJob notifications',
      'moveStalledJobsToWait notifications',
      'startStalledCheckTimer order-expiry',
    ]) {
      expect(decide(name)).toBe(SamplingDecision.NOT_RECORD);
    }
  });

  it('leaves everything else, and housekeeping inside a trace, to the configured sampler', () => {
    expect(decide('process notifications')).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    const inside = trace.setSpanContext(ROOT_CONTEXT, { traceId: 'b'.repeat(32), spanId: 'c'.repeat(16), traceFlags: 1 });
    expect(decide('getNextJob notifications', inside)).toBe(SamplingDecision.RECORD_AND_SAMPLED);
  });
});
