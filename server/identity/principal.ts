// Who is calling: nobody, a signed-in user (with the role from their access token), or a scanner
// device bound to one event.
import type { Role } from './access-tokens.ts';

export type Principal =
  | { kind: 'anonymous' }
  | { kind: 'user'; userId: string; sessionId: string; role: Role }
  | { kind: 'device'; deviceId: string; eventId: string; organizerId: string };

export type UserPrincipal = Extract<Principal, { kind: 'user' }>;
export type DevicePrincipal = Extract<Principal, { kind: 'device' }>;

export const ANONYMOUS: Principal = Object.freeze({ kind: 'anonymous' });
