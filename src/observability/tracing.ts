/**
 * OpenTelemetry tracing: off unless the standard OTEL_* variables ask for it, then spans go to
 * an OTLP/HTTP collector. One trace follows a message: the sender's `ws send` span, the store
 * append, the bus publish on the sender's node, and `bus deliver` on every node that writes
 * it to sockets, the trace context carried in the bus envelope (W3C traceparent).
 *
 * The spans are made by hand at the seams (transports, the port decorators, the bus envelope)
 * rather than by auto-instrumentation, which under ESM needs a loader hook; the API calls are
 * no-ops while tracing is off, and the hot paths ask `tracingEnabled()` before making any.
 */
import { type Context, context, propagation, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider, type SpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';

let enabled = false;

export const tracingEnabled = (): boolean => enabled;

export const tracer = (): Tracer => trace.getTracer('parley');

/** Whether the environment asks for traces (OTEL_TRACES_EXPORTER=otlp, or an OTLP endpoint), and does not disable the SDK. */
export function tracingRequested(env: Record<string, string | undefined>): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').toLowerCase() === 'true') return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '').split(',').map((s) => s.trim());
  if (exporters.includes('none')) return false;
  return exporters.includes('otlp') || Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT) || Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

export interface TracingHandle {
  shutdown(): Promise<void>;
}

/**
 * Starts the process-wide tracer provider. `exporter` replaces the OTLP one (tests) and is
 * flushed span by span; the OTLP exporter is batched and reads its endpoint, headers and
 * timeout from the OTEL_EXPORTER_OTLP_* variables.
 */
export function startTracing(env: Record<string, string | undefined>, exporter?: SpanExporter): TracingHandle {
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME ?? 'parley' }),
    spanProcessors: [exporter === undefined ? new BatchSpanProcessor(new OTLPTraceExporter()) : new SimpleSpanProcessor(exporter)],
  });
  provider.register();
  enabled = true;
  return {
    shutdown: async () => {
      enabled = false;
      await provider.shutdown();
    },
  };
}

/** The W3C traceparent of the active span, or null when there is none. */
export function activeTraceparent(): string | null {
  if (!enabled) return null;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ?? null;
}

/** The context a traceparent names, for a span that continues that trace. */
export function contextFrom(traceparent: string | null | undefined): Context {
  if (traceparent === null || traceparent === undefined) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, { traceparent });
}

/** Runs `fn` in a span; ends it when the promise settles, recording a failure. */
export async function inSpan<T>(name: string, attributes: Record<string, string | number | boolean>, fn: (span: Span) => Promise<T>, kind: SpanKind = SpanKind.INTERNAL): Promise<T> {
  if (!enabled) return fn(trace.wrapSpanContext({ traceId: '', spanId: '', traceFlags: 0 }));
  return tracer().startActiveSpan(name, { kind, attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
  });
}

export { SpanKind, SpanStatusCode, context, trace };
