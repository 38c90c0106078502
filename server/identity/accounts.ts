// Account use cases: register, sign in with a password or an emailed code, refresh, sign out.
// None of them tells whether an address has an account: unknown and known addresses get the same
// answer, and a password check runs against a decoy hash when there is no account.
import { AppError } from '../errors.ts';
import type { MailQueue } from '../mail/index.ts';
import type { Sql } from '../store/index.ts';
import type { AccessTokens, Role } from './access-tokens.ts';
import { recordAudit } from './audit.ts';
import type { LoginCodes } from './login-codes.ts';
import { CODE_TTL_SECONDS } from './login-codes.ts';
import { hashPassword, passwordProblem, verifyPassword } from './passwords.ts';
import type { Revocations } from './revocation.ts';
import type { IssuedSession, SessionMeta, Sessions } from './sessions.ts';

export interface TokenPair {
  tokenType: 'Bearer';
  accessToken: string;
  accessTokenExpiresAt: string;
  refreshToken: string;
  refreshTokenExpiresAt: string;
  user: { id: string; email: string; role: Role };
}

export interface AccountsDeps {
  sql: Sql;
  accessTokens: AccessTokens;
  sessions: Sessions;
  revocations: Revocations;
  codes: LoginCodes;
  mail: MailQueue;
}

interface UserRow {
  id: string;
  email: string;
  role: Role;
  password_hash: string | null;
  disabled_at: Date | null;
}

const invalidCredentials = () => new AppError('unauthorized', 'wrong email or password', { reason: 'invalid_credentials' });
const invalidCode = () => new AppError('unauthorized', 'wrong or expired code', { reason: 'invalid_code' });

export function createAccounts(deps: AccountsDeps) {
  const { sql } = deps;

  async function tokens(session: IssuedSession, email: string): Promise<TokenPair> {
    const access = await deps.accessTokens.sign({ userId: session.userId, sessionId: session.sessionId, role: session.role });
    return {
      tokenType: 'Bearer',
      accessToken: access.token,
      accessTokenExpiresAt: access.expiresAt.toISOString(),
      refreshToken: session.refreshToken,
      refreshTokenExpiresAt: session.refreshExpiresAt.toISOString(),
      user: { id: session.userId, email, role: session.role },
    };
  }

  async function sendCode(email: string, code: string, purpose: 'sign_in' | 'register'): Promise<void> {
    const minutes = CODE_TTL_SECONDS / 60;
    await deps.mail.enqueue({
      to: email,
      subject: purpose === 'register' ? 'Confirm your boxoffice account' : 'Your boxoffice sign-in code',
      text:
        `Your code is ${code}. It is valid for ${minutes} minutes.\n\n` +
        'If you did not ask for it, ignore this message; nobody can use it without access to your mailbox.\n',
    });
  }

  return {
    /** Stores the chosen password on a code; the account is created or updated when the code is verified. */
    async register(email: string, password: string): Promise<void> {
      const problem = passwordProblem(password, email);
      if (problem) throw new AppError('validation_failed', 'the request is invalid', { issues: [{ path: 'body.password', message: problem }] });
      const pending = await hashPassword(password);
      const { code } = await deps.codes.issue(email, 'register', pending);
      await sendCode(email, code, 'register');
    },

    async requestCode(email: string): Promise<void> {
      const { code } = await deps.codes.issue(email, 'sign_in');
      await sendCode(email, code, 'sign_in');
    },

    /** A valid code proves the address: sign in, creating the account on first use. */
    async verifyCode(email: string, code: string, meta: SessionMeta): Promise<TokenPair> {
      const outcome = await sql.begin(async (tx) => {
        const verified = await deps.codes.verify(tx, email, code);
        // A wrong code must still commit its counted try, so the failure is returned, not thrown.
        if (!verified) return null;
        const [user] = await tx<UserRow[]>`
          insert into users (email, password_hash, email_verified_at)
          values (${email}, ${verified.pendingPasswordHash}, now())
          on conflict (email) do update set
            password_hash = coalesce(excluded.password_hash, users.password_hash),
            email_verified_at = coalesce(users.email_verified_at, now()),
            updated_at = now()
          returning id, email, role, password_hash, disabled_at`;
        if (user!.disabled_at) return 'disabled' as const;
        if (verified.pendingPasswordHash) {
          await recordAudit(tx, { action: 'identity.password.set', actor: { kind: 'user', id: user!.id }, subject: { type: 'user', id: user!.id } });
        }
        return deps.sessions.open(tx, user!, meta);
      });
      if (outcome === null) throw invalidCode();
      if (outcome === 'disabled') throw new AppError('forbidden', 'the account is disabled');
      return tokens(outcome, email);
    },

    async login(email: string, password: string, meta: SessionMeta): Promise<TokenPair> {
      const [user] = await sql<UserRow[]>`
        select id, email, role, password_hash, disabled_at from users where email = ${email}`;
      const ok = await verifyPassword(user?.password_hash ?? null, password);
      if (!user || !ok) throw invalidCredentials();
      if (user.disabled_at) throw new AppError('forbidden', 'the account is disabled');
      const session = await deps.sessions.open(sql, user, meta);
      return tokens(session, user.email);
    },

    async refresh(refreshToken: string): Promise<TokenPair> {
      const result = await deps.sessions.rotate(refreshToken);
      if ('reused' in result) {
        // A retired token came back: someone holds a copy. End the whole family everywhere now.
        await deps.revocations.revoke([result.sessionId]);
        await recordAudit(sql, {
          action: 'identity.session.reuse_detected',
          actor: { kind: 'system' },
          subject: { type: 'session', id: result.sessionId },
          data: { userId: result.userId },
        });
        throw new AppError('unauthorized', 'this refresh token was already used; the session is ended', { reason: 'refresh_reused' });
      }
      const [user] = await sql<{ email: string }[]>`select email from users where id = ${result.userId}`;
      return tokens(result, user!.email);
    },

    async logout(sessionId: string): Promise<void> {
      const ended = await deps.sessions.revoke(sessionId, 'logout');
      await deps.revocations.revoke(ended.length ? ended : [sessionId]);
    },

    async logoutEverywhere(userId: string): Promise<number> {
      const ended = await deps.sessions.revokeAllForUser(userId, 'logout_all');
      await deps.revocations.revoke(ended);
      return ended.length;
    },

    async me(userId: string) {
      const [row] = await sql<{ id: string; email: string; role: Role; displayName: string | null; emailVerifiedAt: Date | null; createdAt: Date }[]>`
        select id, email, role, display_name as "displayName", email_verified_at as "emailVerifiedAt", created_at as "createdAt"
        from users where id = ${userId}`;
      if (!row) throw new AppError('not_found', 'account not found');
      return row;
    },
  };
}

export type Accounts = ReturnType<typeof createAccounts>;
