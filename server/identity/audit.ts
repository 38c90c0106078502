// The append-only audit log: who did what to whom, when and why. The table refuses UPDATE and
// DELETE (a trigger), so the record cannot be edited after the fact by the application either.
import { trace } from '@opentelemetry/api';
import type { Sql, TransactionSql } from '../store/index.ts';

export interface AuditEntry {
  /** Dotted, past tense: `identity.organizer.approved`. */
  action: string;
  actor: { kind: 'user' | 'device' | 'system'; id?: string | null };
  subject?: { type: string; id: string };
  reason?: string | null;
  data?: Record<string, unknown>;
  requestId?: string | null;
}

export async function recordAudit(tx: Sql | TransactionSql, entry: AuditEntry): Promise<void> {
  const traceId = trace.getActiveSpan()?.spanContext().traceId ?? null;
  await tx`
    insert into audit_log (action, actor_kind, actor_id, subject_type, subject_id, reason, data, request_id, trace_id)
    values (${entry.action}, ${entry.actor.kind}, ${entry.actor.id ?? null}, ${entry.subject?.type ?? null},
            ${entry.subject?.id ?? null}, ${entry.reason ?? null}, ${tx.json((entry.data ?? {}) as never)},
            ${entry.requestId ?? null}, ${traceId})`;
}
