// The organizer role is never self-granted: a customer asks, an admin approves or rejects, and
// both steps land in the audit log with who, whom, when and why.
import { AppError } from '../errors.ts';
import type { Sql } from '../store/index.ts';
import { recordAudit } from './audit.ts';

export interface OrganizerRequest {
  id: string;
  userId: string;
  email: string;
  organizationName: string;
  message: string;
  status: 'pending' | 'approved' | 'rejected';
  decidedBy: string | null;
  decidedAt: Date | null;
  decisionNote: string | null;
  createdAt: Date;
}

const columns = (sql: Sql) => sql`
  r.id, r.user_id as "userId", u.email, r.organization_name as "organizationName", r.message, r.status,
  r.decided_by as "decidedBy", r.decided_at as "decidedAt", r.decision_note as "decisionNote", r.created_at as "createdAt"`;

export function createOrganizers(sql: Sql) {
  return {
    async request(userId: string, organizationName: string, message: string, requestId?: string): Promise<OrganizerRequest> {
      return sql.begin(async (tx) => {
        const [user] = await tx<{ role: string }[]>`select role from users where id = ${userId} for update`;
        if (!user) throw new AppError('not_found', 'account not found');
        if (user.role !== 'customer') throw new AppError('conflict', `the account is already ${user.role}`);
        const [pending] = await tx`select 1 from organizer_requests where user_id = ${userId} and status = 'pending'`;
        if (pending) throw new AppError('conflict', 'a request is already waiting for a decision');
        const [created] = await tx<{ id: string }[]>`
          insert into organizer_requests (user_id, organization_name, message)
          values (${userId}, ${organizationName}, ${message}) returning id`;
        await recordAudit(tx, {
          action: 'identity.organizer.requested',
          actor: { kind: 'user', id: userId },
          subject: { type: 'user', id: userId },
          data: { requestId: created!.id, organizationName },
          requestId: requestId ?? null,
        });
        const [row] = await tx<OrganizerRequest[]>`
          select ${columns(tx as unknown as Sql)} from organizer_requests r join users u on u.id = r.user_id where r.id = ${created!.id}`;
        return row!;
      });
    },

    list(status: OrganizerRequest['status'] | undefined, limit: number): Promise<OrganizerRequest[]> {
      return sql<OrganizerRequest[]>`
        select ${columns(sql)} from organizer_requests r join users u on u.id = r.user_id
        where ${status ? sql`r.status = ${status}` : sql`true`}
        order by r.created_at desc limit ${limit}`;
    },

    async decide(
      requestId: string,
      adminId: string,
      decision: 'approved' | 'rejected',
      note: string | null,
      httpRequestId?: string,
    ): Promise<OrganizerRequest> {
      return sql.begin(async (tx) => {
        const [req] = await tx<{ user_id: string; status: string }[]>`
          select user_id, status from organizer_requests where id = ${requestId} for update`;
        if (!req) throw new AppError('not_found', 'organizer request not found');
        if (req.status !== 'pending') throw new AppError('conflict', `the request was already ${req.status}`);
        await tx`
          update organizer_requests set status = ${decision}, decided_by = ${adminId}, decided_at = now(), decision_note = ${note}
          where id = ${requestId}`;
        if (decision === 'approved') {
          await tx`update users set role = 'organizer', updated_at = now() where id = ${req.user_id} and role = 'customer'`;
        }
        await recordAudit(tx, {
          action: `identity.organizer.${decision}`,
          actor: { kind: 'user', id: adminId },
          subject: { type: 'user', id: req.user_id },
          reason: note,
          data: { requestId, ...(decision === 'approved' ? { roleFrom: 'customer', roleTo: 'organizer' } : {}) },
          requestId: httpRequestId ?? null,
        });
        const [row] = await tx<OrganizerRequest[]>`
          select ${columns(tx as unknown as Sql)} from organizer_requests r join users u on u.id = r.user_id where r.id = ${requestId}`;
        return row!;
      });
    },
  };
}

export type Organizers = ReturnType<typeof createOrganizers>;

/** Bootstrap (CLI): makes an account admin, creating it if needed. Audited as a system action. */
export async function makeAdmin(sql: Sql, email: string): Promise<{ id: string; created: boolean }> {
  return sql.begin(async (tx) => {
    const [existing] = await tx<{ id: string; role: string }[]>`select id, role from users where email = ${email} for update`;
    let id: string;
    if (existing) {
      id = existing.id;
      await tx`update users set role = 'admin', updated_at = now() where id = ${id}`;
    } else {
      const [row] = await tx<{ id: string }[]>`insert into users (email, role) values (${email}, 'admin') returning id`;
      id = row!.id;
    }
    await recordAudit(tx, {
      action: 'identity.admin.granted',
      actor: { kind: 'system', id: 'cli' },
      subject: { type: 'user', id },
      reason: 'npm run admin:create',
      data: { roleFrom: existing?.role ?? null, roleTo: 'admin' },
    });
    return { id, created: !existing };
  });
}
