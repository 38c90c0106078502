// Password hashing (argon2id, OWASP's minimum parameters) and the password rules: length and a
// blocklist, as NIST SP 800-63B advises, instead of composition rules people work around.
import { randomBytes } from 'node:crypto';
import { hash, verify, type Options } from '@node-rs/argon2';
import { z } from 'zod';

// algorithm 2 is Argon2id (a const enum in the package, which isolated modules cannot read).
const ARGON2: Options = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 };

export const PASSWORD_MIN = 12;
/** Long enough for any passphrase, short enough that hashing it is no denial-of-service lever. */
export const PASSWORD_MAX = 128;

// The most common choices that pass the length rule; a full breach corpus belongs in a later step.
const COMMON = new Set([
  '123456789012', '1234567890123', 'qwertyuiopas', 'password1234', 'passwordpassword', 'iloveyou1234',
  'administrator', 'letmeinletmein', 'welcome12345', 'qwerty123456', '111111111111', '000000000000',
  'abcdefghijkl', 'abc123abc123', 'password123!', 'changeme1234', 'football1234', 'monkey123456',
  'sunshine1234', 'princess1234', 'trustno1trustno1', 'boxoffice123', 'ticketsticket', 'qwertyqwerty',
]);

export const passwordSchema = z
  .string()
  .min(PASSWORD_MIN, `at least ${PASSWORD_MIN} characters`)
  .max(PASSWORD_MAX, `at most ${PASSWORD_MAX} characters`)
  .refine((p) => !COMMON.has(p.toLowerCase()), 'this password is too common')
  .refine((p) => new Set(p).size >= 4, 'use more different characters');

/** Rules that need the account's email: the password must not contain its local part. */
export function passwordProblem(password: string, email: string): string | null {
  const local = email.split('@')[0]?.toLowerCase() ?? '';
  if (local.length >= 4 && password.toLowerCase().includes(local)) return 'the password must not contain your email name';
  return null;
}

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2);
}

/** A hash of nothing anyone knows, verified against when the account does not exist (same timing). */
const decoy = hash(randomBytes(24).toString('base64url'), ARGON2);

export async function verifyPassword(storedHash: string | null, password: string): Promise<boolean> {
  if (storedHash === null) {
    await verify(await decoy, password).catch(() => false);
    return false;
  }
  try {
    return await verify(storedHash, password);
  } catch {
    return false;
  }
}
