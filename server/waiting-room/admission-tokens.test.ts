import { randomUUID } from 'node:crypto';
import { SignJWT, UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createAccessTokens } from '../identity/index.ts';
import { ADMISSION_AUDIENCE, ADMISSION_ISSUER, createAdmissionTokens } from './admission-tokens.ts';

const SECRET = 'admission-token-test-secret-0123456789abcdef';
const NOW = Date.UTC(2031, 0, 2, 20, 0, 0);

async function refusal(promise: Promise<unknown>): Promise<{ code: string; reason: string }> {
  try {
    await promise;
  } catch (err) {
    const e = err as { code: string; status: number; details: { reason: string } };
    expect(e.status).toBe(403);
    return { code: e.code, reason: e.details.reason };
  }
  throw new Error('expected the token to be refused');
}

describe('admission tokens', () => {
  const tokens = createAdmissionTokens(SECRET);
  const accountId = randomUUID();
  const eventId = randomUUID();
  const grant = { accountId, eventId, expiresAt: NOW + 300_000 };

  it('admit the account to the event until they expire, and not a second later', async () => {
    const token = await tokens.sign(grant, NOW);
    await expect(tokens.verify(token, { accountId, eventId }, NOW)).resolves.toBeUndefined();
    await expect(tokens.verify(token, { accountId, eventId }, NOW + 299_999)).resolves.toBeUndefined();
    expect(await refusal(tokens.verify(token, { accountId, eventId }, NOW + 300_000))).toEqual({ code: 'admission_required', reason: 'expired' });
  });

  it('are refused for another account or another event', async () => {
    const token = await tokens.sign(grant, NOW);
    expect((await refusal(tokens.verify(token, { accountId: randomUUID(), eventId }, NOW))).reason).toBe('other_account');
    expect((await refusal(tokens.verify(token, { accountId, eventId: randomUUID() }, NOW))).reason).toBe('other_event');
  });

  it('are refused when missing, malformed, forged, unsigned or of another kind', async () => {
    const expectation = { accountId, eventId };
    expect((await refusal(tokens.verify(undefined, expectation, NOW))).reason).toBe('missing');
    expect((await refusal(tokens.verify('', expectation, NOW))).reason).toBe('missing');
    expect((await refusal(tokens.verify('not-a-token', expectation, NOW))).reason).toBe('invalid');

    const forged = await createAdmissionTokens(`${SECRET}-other`).sign(grant, NOW);
    expect((await refusal(tokens.verify(forged, expectation, NOW))).reason).toBe('invalid');

    // Signed with the raw server secret (the access tokens' key), with every claim right.
    const rawKey = await new SignJWT({ evt: eventId })
      .setProtectedHeader({ alg: 'HS256', typ: 'bo-admission+jwt' })
      .setSubject(accountId)
      .setIssuer(ADMISSION_ISSUER)
      .setAudience(ADMISSION_AUDIENCE)
      .setExpirationTime(Math.floor(grant.expiresAt / 1000))
      .sign(new TextEncoder().encode(SECRET));
    expect((await refusal(tokens.verify(rawKey, expectation, NOW))).reason).toBe('invalid');

    const unsigned = new UnsecuredJWT({ evt: eventId })
      .setSubject(accountId)
      .setIssuer(ADMISSION_ISSUER)
      .setAudience(ADMISSION_AUDIENCE)
      .setExpirationTime(Math.floor(grant.expiresAt / 1000))
      .encode();
    expect((await refusal(tokens.verify(unsigned, expectation, NOW))).reason).toBe('invalid');

    const access = createAccessTokens({ secret: SECRET, issuer: 'boxoffice', audience: 'boxoffice-api', ttlSeconds: 900 });
    const { token: accessToken } = await access.sign({ userId: accountId, sessionId: randomUUID(), role: 'customer' }, new Date(NOW));
    expect((await refusal(tokens.verify(accessToken, expectation, NOW))).reason).toBe('invalid');
  });
});
