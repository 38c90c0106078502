// Scanner device tokens: created by an organizer for one of its events, shown once, stored as a
// hash, revocable at once (every device request looks its token up).
import { createHash, randomBytes } from 'node:crypto';
import { AppError } from '../errors.ts';
import type { Sql } from '../store/index.ts';
import { recordAudit } from './audit.ts';
import type { DevicePrincipal } from './principal.ts';

export const DEVICE_TOKEN_PREFIX = 'bxd_';

export interface Device {
  id: string;
  eventId: string;
  name: string;
  createdAt: Date;
  lastSeenAt: Date | null;
  revokedAt: Date | null;
}

const hashToken = (token: string) => createHash('sha256').update(token).digest();

export interface Devices {
  create(eventId: string, name: string, createdBy: string, requestId?: string): Promise<{ device: Device; token: string }>;
  list(eventId: string): Promise<Device[]>;
  /** Revokes; returns false when the device does not belong to the event. */
  revoke(eventId: string, deviceId: string, revokedBy: string, requestId?: string): Promise<boolean>;
  authenticate(token: string): Promise<DevicePrincipal>;
}

export function createDevices(sql: Sql): Devices {
  const columns = sql`id, event_id as "eventId", name, created_at as "createdAt", last_seen_at as "lastSeenAt", revoked_at as "revokedAt"`;
  return {
    async create(eventId, name, createdBy, requestId) {
      const token = DEVICE_TOKEN_PREFIX + randomBytes(32).toString('base64url');
      return sql.begin(async (tx) => {
        const [device] = await tx<Device[]>`
          insert into scanner_devices (event_id, name, token_hash, created_by)
          values (${eventId}, ${name}, ${hashToken(token)}, ${createdBy})
          returning ${columns}`;
        await recordAudit(tx, {
          action: 'identity.device.created',
          actor: { kind: 'user', id: createdBy },
          subject: { type: 'scanner_device', id: device!.id },
          data: { eventId, name },
          requestId: requestId ?? null,
        });
        return { device: device!, token };
      });
    },
    list(eventId) {
      return sql<Device[]>`select ${columns} from scanner_devices where event_id = ${eventId} order by created_at`;
    },
    async revoke(eventId, deviceId, revokedBy, requestId) {
      return sql.begin(async (tx) => {
        const rows = await tx`
          update scanner_devices set revoked_at = coalesce(revoked_at, now())
          where id = ${deviceId} and event_id = ${eventId} returning id`;
        if (rows.length !== 1) return false;
        await recordAudit(tx, {
          action: 'identity.device.revoked',
          actor: { kind: 'user', id: revokedBy },
          subject: { type: 'scanner_device', id: deviceId },
          data: { eventId },
          requestId: requestId ?? null,
        });
        return true;
      });
    },
    async authenticate(token) {
      const [row] = await sql<{ id: string; event_id: string; organizer_id: string }[]>`
        update scanner_devices d set last_seen_at = now()
        from events e
        where d.token_hash = ${hashToken(token)} and d.revoked_at is null and e.id = d.event_id
        returning d.id, d.event_id, e.organizer_id`;
      if (!row) throw new AppError('unauthorized', 'invalid or revoked device token', { reason: 'device_invalid' });
      return { kind: 'device', deviceId: row.id, eventId: row.event_id, organizerId: row.organizer_id };
    },
  };
}
