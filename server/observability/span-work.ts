// The one way a span ends around a piece of async work: an error is recorded on it (and rethrown),
// and the span ends when the work settles, whichever way.
import { SpanStatusCode, type Span } from '@opentelemetry/api';

export async function settleSpan<T>(span: Span, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw err;
  } finally {
    span.end();
  }
}
