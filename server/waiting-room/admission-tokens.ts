// Admission tokens: proof that the waiting room let an account through for one event, until the
// end of its hold window. HS256 JWTs (algorithm and type pinned) under a key derived from the
// server secret for this use only, with an audience of their own, so neither an access token nor
// any other token of ours passes for one. Checked without Redis: the signature and expiry say it all.
import { hkdfSync } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import { AppError } from '../errors.ts';

const ALGORITHM = 'HS256';
const TYPE = 'bo-admission+jwt';
export const ADMISSION_ISSUER = 'boxoffice';
export const ADMISSION_AUDIENCE = 'boxoffice-admission';
/** The HTTP header a hold request carries the token in (the purchase body is strict). */
export const ADMISSION_HEADER = 'admission-token';

const claimsSchema = z.object({ sub: z.guid(), evt: z.guid(), exp: z.number().int() });

export type AdmissionRefusal = 'missing' | 'invalid' | 'expired' | 'other_account' | 'other_event';

const MESSAGES: Record<AdmissionRefusal, string> = {
  missing: 'this event has a waiting room: join it, and hold with the admission token it gives you',
  invalid: 'the admission token is not valid',
  expired: 'your admission has expired: join the waiting room again',
  other_account: 'the admission token belongs to another account',
  other_event: 'the admission token is for another event',
};

export function admissionRefused(reason: AdmissionRefusal): AppError {
  return new AppError('admission_required', MESSAGES[reason], { reason });
}

export interface AdmissionTokens {
  /** A token admitting `accountId` to `eventId` until `expiresAt` (whole seconds). */
  sign(grant: { accountId: string; eventId: string; expiresAt: number }, now: number): Promise<string>;
  /** Passes when the token admits this account to this event at `now`; throws admission_required otherwise. */
  verify(token: string | undefined, expected: { accountId: string; eventId: string }, now: number): Promise<void>;
}

export function createAdmissionTokens(serverSecret: string): AdmissionTokens {
  const key = new Uint8Array(hkdfSync('sha256', serverSecret, 'boxoffice', 'admission tokens v1', 32));
  return {
    async sign({ accountId, eventId, expiresAt }, now) {
      return new SignJWT({ evt: eventId })
        .setProtectedHeader({ alg: ALGORITHM, typ: TYPE })
        .setSubject(accountId)
        .setIssuer(ADMISSION_ISSUER)
        .setAudience(ADMISSION_AUDIENCE)
        .setIssuedAt(Math.floor(now / 1000))
        .setExpirationTime(Math.floor(expiresAt / 1000))
        .sign(key);
    },

    async verify(token, expected, now) {
      if (token === undefined || token === '') throw admissionRefused('missing');
      let claims: z.infer<typeof claimsSchema>;
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: [ALGORITHM],
          typ: TYPE,
          issuer: ADMISSION_ISSUER,
          audience: ADMISSION_AUDIENCE,
          currentDate: new Date(now),
          requiredClaims: ['exp', 'sub'],
        });
        claims = claimsSchema.parse(payload);
      } catch (err) {
        throw admissionRefused((err as { code?: string }).code === 'ERR_JWT_EXPIRED' ? 'expired' : 'invalid');
      }
      if (claims.sub !== expected.accountId) throw admissionRefused('other_account');
      if (claims.evt !== expected.eventId) throw admissionRefused('other_event');
    },
  };
}
