// Sessions and rotating refresh tokens. A session is one sign-in (one refresh-token family): each
// refresh hands out a new refresh token and retires the old one; presenting a retired token again
// means it was stolen or replayed, so the whole family is revoked. Sessions also end when idle
// too long and at an absolute lifetime.
import { createHash, randomBytes } from 'node:crypto';
import { AppError } from '../errors.ts';
import type { Sql, TransactionSql } from '../store/index.ts';
import type { Role } from './access-tokens.ts';

const REFRESH_PREFIX = 'bxr_';

export interface SessionSettings {
  refreshTtlSeconds: number;
  idleTimeoutSeconds: number;
}

export interface SessionMeta {
  userAgent?: string | undefined;
  ip?: string | undefined;
}

export interface IssuedSession {
  sessionId: string;
  userId: string;
  role: Role;
  refreshToken: string;
  refreshExpiresAt: Date;
}

export type RevokedBy = 'logout' | 'logout_all' | 'refresh_reuse' | 'role_change' | 'account_disabled';

export function hashRefreshToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

function newRefreshToken(): string {
  return REFRESH_PREFIX + randomBytes(32).toString('base64url');
}

const unauthorized = (reason: string, message: string) => new AppError('unauthorized', message, { reason });

export interface Sessions {
  open(tx: TransactionSql | Sql, user: { id: string; role: Role }, meta: SessionMeta): Promise<IssuedSession>;
  /** Rotates a refresh token. On reuse of a retired token, revokes the family and reports it. */
  rotate(refreshToken: string): Promise<IssuedSession | { reused: true; sessionId: string; userId: string }>;
  revoke(sessionId: string, reason: RevokedBy): Promise<string[]>;
  revokeAllForUser(userId: string, reason: RevokedBy): Promise<string[]>;
}

export function createSessions(sql: Sql, settings: SessionSettings): Sessions {
  async function insertToken(tx: TransactionSql | Sql, sessionId: string, sessionExpires: Date) {
    const token = newRefreshToken();
    const expiresAt = new Date(Math.min(Date.now() + settings.refreshTtlSeconds * 1000, sessionExpires.getTime()));
    const [row] = await tx<{ id: string }[]>`
      insert into refresh_tokens (session_id, token_hash, expires_at)
      values (${sessionId}, ${hashRefreshToken(token)}, ${expiresAt}) returning id`;
    return { token, expiresAt, id: row!.id };
  }

  return {
    async open(tx, user, meta) {
      const expires = new Date(Date.now() + settings.refreshTtlSeconds * 1000);
      const [session] = await tx<{ id: string }[]>`
        insert into sessions (user_id, expires_at, user_agent, ip)
        values (${user.id}, ${expires}, ${meta.userAgent?.slice(0, 512) ?? null}, ${meta.ip ?? null})
        returning id`;
      const refresh = await insertToken(tx, session!.id, expires);
      return { sessionId: session!.id, userId: user.id, role: user.role, refreshToken: refresh.token, refreshExpiresAt: refresh.expiresAt };
    },

    async rotate(refreshToken) {
      if (!refreshToken.startsWith(REFRESH_PREFIX)) throw unauthorized('refresh_invalid', 'invalid refresh token');
      return sql.begin(async (tx) => {
        const [row] = await tx<
          {
            token_id: string;
            rotated_at: Date | null;
            token_expires: Date;
            session_id: string;
            user_id: string;
            role: Role;
            revoked_at: Date | null;
            session_expires: Date;
            last_used_at: Date;
            disabled_at: Date | null;
          }[]
        >`
          select rt.id as token_id, rt.rotated_at, rt.expires_at as token_expires,
                 s.id as session_id, s.user_id, u.role, s.revoked_at, s.expires_at as session_expires,
                 s.last_used_at, u.disabled_at
          from refresh_tokens rt
          join sessions s on s.id = rt.session_id
          join users u on u.id = s.user_id
          where rt.token_hash = ${hashRefreshToken(refreshToken)}
          for update of rt, s`;
        if (!row) throw unauthorized('refresh_invalid', 'invalid refresh token');
        if (row.revoked_at) throw unauthorized('session_revoked', 'the session has ended');
        if (row.rotated_at) {
          await tx`update sessions set revoked_at = now(), revoked_reason = 'refresh_reuse' where id = ${row.session_id}`;
          return { reused: true as const, sessionId: row.session_id, userId: row.user_id };
        }
        const now = Date.now();
        if (row.disabled_at) throw unauthorized('account_disabled', 'the account is disabled');
        if (row.token_expires.getTime() <= now || row.session_expires.getTime() <= now) {
          throw unauthorized('session_expired', 'the session has expired; sign in again');
        }
        if (row.last_used_at.getTime() + settings.idleTimeoutSeconds * 1000 <= now) {
          await tx`update sessions set revoked_at = now(), revoked_reason = 'idle' where id = ${row.session_id}`;
          throw unauthorized('session_idle', 'the session was idle too long; sign in again');
        }
        const next = await insertToken(tx, row.session_id, row.session_expires);
        await tx`update refresh_tokens set rotated_at = now(), replaced_by = ${next.id} where id = ${row.token_id}`;
        await tx`update sessions set last_used_at = now() where id = ${row.session_id}`;
        return {
          sessionId: row.session_id,
          userId: row.user_id,
          role: row.role,
          refreshToken: next.token,
          refreshExpiresAt: next.expiresAt,
        };
      });
    },

    async revoke(sessionId, reason) {
      const rows = await sql<{ id: string }[]>`
        update sessions set revoked_at = now(), revoked_reason = ${reason}
        where id = ${sessionId} and revoked_at is null returning id`;
      return rows.map((r) => r.id);
    },

    async revokeAllForUser(userId, reason) {
      const rows = await sql<{ id: string }[]>`
        update sessions set revoked_at = now(), revoked_reason = ${reason}
        where user_id = ${userId} and revoked_at is null returning id`;
      return rows.map((r) => r.id);
    },
  };
}
