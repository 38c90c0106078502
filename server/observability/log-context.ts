// Fields every log line carries from where it was written: the active trace and span ids, and the
// purchase being worked on. They travel in the OpenTelemetry context (async-local), so a line
// written deep inside an effect, a query retry or a job names its purchase without being passed it.
import { context, createContextKey, trace, type Context } from '@opentelemetry/api';

const PURCHASE_ID = createContextKey('boxoffice.purchase_id');

/** `parent` with the purchase id set: spans started on it and code run in it log `purchaseId`. */
export function withPurchaseId(parent: Context, purchaseId: string): Context {
  return parent.setValue(PURCHASE_ID, purchaseId);
}

export interface LogFields {
  traceId?: string;
  spanId?: string;
  purchaseId?: string;
}

const INVALID_TRACE = '00000000000000000000000000000000';

export function logFields(active: Context = context.active()): LogFields {
  const fields: LogFields = {};
  const span = trace.getSpanContext(active);
  if (span && span.traceId !== INVALID_TRACE) {
    fields.traceId = span.traceId;
    fields.spanId = span.spanId;
  }
  const purchaseId = active.getValue(PURCHASE_ID);
  if (typeof purchaseId === 'string') fields.purchaseId = purchaseId;
  return fields;
}
