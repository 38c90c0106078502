// Short-lived access tokens: JWTs signed with HS256 (pinned — `none` and every other algorithm are
// refused), issuer and audience checked. Revocation is not the JWT's job: see revocation.ts.
import { randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import { AppError } from '../errors.ts';

const ALGORITHM = 'HS256';
export const ROLES = ['customer', 'organizer', 'admin'] as const;
export const roleSchema = z.enum(ROLES);
export type Role = z.infer<typeof roleSchema>;

const claimsSchema = z.object({
  sub: z.uuid(),
  sid: z.uuid(),
  role: roleSchema,
  iat: z.number().int(),
  exp: z.number().int(),
  jti: z.string().min(1),
});
export type AccessClaims = z.infer<typeof claimsSchema>;

export interface AccessTokenSettings {
  secret: string;
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

export interface AccessTokens {
  sign(subject: { userId: string; sessionId: string; role: Role }, now?: Date): Promise<{ token: string; expiresAt: Date }>;
  /** Verifies signature, algorithm, issuer, audience and expiry; throws AppError('unauthorized'). */
  verify(token: string): Promise<AccessClaims>;
}

export function createAccessTokens(settings: AccessTokenSettings): AccessTokens {
  const key = new TextEncoder().encode(settings.secret);
  return {
    async sign({ userId, sessionId, role }, now = new Date()) {
      const iat = Math.floor(now.getTime() / 1000);
      const exp = iat + settings.ttlSeconds;
      const token = await new SignJWT({ sid: sessionId, role })
        .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
        .setSubject(userId)
        .setIssuer(settings.issuer)
        .setAudience(settings.audience)
        .setIssuedAt(iat)
        .setExpirationTime(exp)
        .setJti(randomUUID())
        .sign(key);
      return { token, expiresAt: new Date(exp * 1000) };
    },
    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: [ALGORITHM],
          issuer: settings.issuer,
          audience: settings.audience,
          clockTolerance: 5,
        });
        return claimsSchema.parse(payload);
      } catch (err) {
        const expired = (err as { code?: string }).code === 'ERR_JWT_EXPIRED';
        throw new AppError('unauthorized', expired ? 'the access token has expired' : 'invalid access token', {
          reason: expired ? 'token_expired' : 'token_invalid',
        });
      }
    },
  };
}
