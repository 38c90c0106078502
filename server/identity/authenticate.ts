// Turns an Authorization header into a Principal: a user's access token (verified, then checked
// against the shared revocation list) or a device token. A presented but bad credential is always
// refused, even on public routes.
import { AppError } from '../errors.ts';
import type { AccessTokens } from './access-tokens.ts';
import { DEVICE_TOKEN_PREFIX, type Devices } from './devices.ts';
import { ANONYMOUS, type Principal } from './principal.ts';
import type { Revocations } from './revocation.ts';

export interface AuthenticatorDeps {
  accessTokens: AccessTokens;
  revocations: Revocations;
  devices: Devices;
}

const BEARER = /^Bearer ([A-Za-z0-9._~+/=-]{1,4096})$/;

export function createAuthenticator(deps: AuthenticatorDeps) {
  return async function authenticate(authorization: string | undefined): Promise<Principal> {
    if (authorization === undefined || authorization === '') return ANONYMOUS;
    const match = BEARER.exec(authorization);
    if (!match) throw new AppError('unauthorized', 'the Authorization header must be "Bearer <token>"', { reason: 'malformed' });
    const token = match[1]!;
    if (token.startsWith(DEVICE_TOKEN_PREFIX)) return deps.devices.authenticate(token);
    const claims = await deps.accessTokens.verify(token);
    if (await deps.revocations.isRevoked(claims.sid)) {
      throw new AppError('unauthorized', 'the session has ended', { reason: 'session_revoked' });
    }
    return { kind: 'user', userId: claims.sub, sessionId: claims.sid, role: claims.role };
  };
}
