// Identity: accounts, sessions, tokens, roles, scanner devices, the audit log and the
// authenticator every guarded route uses.
import type { Config } from '../config.ts';
import type { MailQueue } from '../mail/index.ts';
import type { Redis, Sql } from '../store/index.ts';
import { createHmac } from 'node:crypto';
import { createAccessTokens } from './access-tokens.ts';
import { createAccounts } from './accounts.ts';
import { createAuthenticator } from './authenticate.ts';
import { createDevices } from './devices.ts';
import { createLoginCodes } from './login-codes.ts';
import { createOrganizers } from './organizers.ts';
import { createRevocations } from './revocation.ts';
import { identityRoutes } from './routes.ts';
import { createSessions } from './sessions.ts';

export { createAccessTokens, roleSchema, ROLES, type AccessClaims, type Role } from './access-tokens.ts';
export { recordAudit, type AuditEntry } from './audit.ts';
export { makeAdmin } from './organizers.ts';
export { ANONYMOUS, type DevicePrincipal, type Principal, type UserPrincipal } from './principal.ts';
export { emailSchema } from './routes.ts';

export const TOKEN_ISSUER = 'boxoffice';
export const TOKEN_AUDIENCE = 'boxoffice-api';

export interface IdentityDeps {
  config: Config;
  sql: Sql;
  redis: Redis;
  mail: MailQueue;
}

export function createIdentity({ config, sql, redis, mail }: IdentityDeps) {
  const accessTokens = createAccessTokens({
    secret: config.auth.jwtSecret,
    issuer: TOKEN_ISSUER,
    audience: TOKEN_AUDIENCE,
    ttlSeconds: config.auth.accessTokenTtlSeconds,
  });
  const revocations = createRevocations(redis, { keyPrefix: config.redis.keyPrefix, accessTtlSeconds: config.auth.accessTokenTtlSeconds });
  const sessions = createSessions(sql, {
    refreshTtlSeconds: config.auth.refreshTokenTtlSeconds,
    idleTimeoutSeconds: config.auth.sessionIdleTimeoutSeconds,
  });
  // The code HMAC key is derived from the one signing secret, so the two uses never share a key.
  const codeKey = createHmac('sha256', config.auth.jwtSecret).update('boxoffice login codes').digest('hex');
  const codes = createLoginCodes(sql, codeKey);
  const devices = createDevices(sql);
  const accounts = createAccounts({ sql, accessTokens, sessions, revocations, codes, mail });
  const organizers = createOrganizers(sql);
  return {
    accessTokens,
    accounts,
    organizers,
    devices,
    revocations,
    authenticate: createAuthenticator({ accessTokens, revocations, devices }),
    routes: identityRoutes({
      sql,
      accounts,
      organizers,
      devices,
      limits: config.rateLimits,
      exposeOutbox: !config.isProduction && config.mail.transport === 'outbox',
    }),
  };
}

export type Identity = ReturnType<typeof createIdentity>;
