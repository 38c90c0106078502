// Emailed one-time codes: 6 digits, valid 5 minutes, at most 5 tries, one new code per minute per
// address. Stored as an HMAC keyed by a server secret, so a database dump does not give the codes
// away (a bare hash of 10^6 values would). A code proves the caller owns the address: it signs in
// (creating the account on first use) and, for a registration, sets the password chosen then.
import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import { AppError } from '../errors.ts';
import type { Sql, TransactionSql } from '../store/index.ts';

export const CODE_TTL_SECONDS = 5 * 60;
export const CODE_MAX_ATTEMPTS = 5;
export const CODE_RESEND_COOLDOWN_SECONDS = 60;

export type CodePurpose = 'sign_in' | 'register';

export interface IssuedCode {
  code: string;
  expiresAt: Date;
}

export interface VerifiedCode {
  purpose: CodePurpose;
  pendingPasswordHash: string | null;
}

export interface LoginCodes {
  /** Throws rate_limited (with retryAfterSeconds) inside the resend cooldown. */
  issue(email: string, purpose: CodePurpose, pendingPasswordHash?: string | null): Promise<IssuedCode>;
  /** Consumes the latest live code for the address if `code` matches; otherwise counts a try. */
  verify(tx: TransactionSql, email: string, code: string): Promise<VerifiedCode | null>;
}

export function createLoginCodes(sql: Sql, secret: string): LoginCodes {
  const digest = (email: string, code: string) => createHmac('sha256', secret).update(`${email}\n${code}`).digest();

  return {
    async issue(email, purpose, pendingPasswordHash = null) {
      return sql.begin(async (tx) => {
        // Serialise issuing per address so two racing requests cannot both pass the cooldown.
        await tx`select pg_advisory_xact_lock(hashtextextended(${`login-code:${email}`}, 0))`;
        const [recent] = await tx<{ wait: number }[]>`
          select ceil(extract(epoch from (created_at + make_interval(secs => ${CODE_RESEND_COOLDOWN_SECONDS}) - now())))::int as wait
          from login_codes where email = ${email} and created_at > now() - make_interval(secs => ${CODE_RESEND_COOLDOWN_SECONDS})
          order by created_at desc limit 1`;
        if (recent) {
          throw new AppError('rate_limited', 'a code was sent recently; wait before asking again', {
            retryAfterSeconds: Math.max(1, recent.wait),
          });
        }
        const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
        const expiresAt = new Date(Date.now() + CODE_TTL_SECONDS * 1000);
        // A new code retires the older ones.
        await tx`update login_codes set consumed_at = now() where email = ${email} and consumed_at is null`;
        await tx`
          insert into login_codes (email, code_hash, purpose, pending_password_hash, expires_at)
          values (${email}, ${digest(email, code)}, ${purpose}, ${pendingPasswordHash}, ${expiresAt})`;
        return { code, expiresAt };
      });
    },

    async verify(tx, email, code) {
      const [row] = await tx<{ id: string; code_hash: Buffer; attempts: number; purpose: CodePurpose; pending_password_hash: string | null }[]>`
        select id, code_hash, attempts, purpose, pending_password_hash from login_codes
        where email = ${email} and consumed_at is null and expires_at > now()
        order by created_at desc limit 1
        for update`;
      if (!row || row.attempts >= CODE_MAX_ATTEMPTS) return null;
      const matches = /^\d{6}$/.test(code) && timingSafeEqual(row.code_hash, digest(email, code));
      if (!matches) {
        await tx`update login_codes set attempts = attempts + 1 where id = ${row.id}`;
        return null;
      }
      await tx`update login_codes set consumed_at = now() where id = ${row.id}`;
      return { purpose: row.purpose, pendingPasswordHash: row.pending_password_hash };
    },
  };
}
