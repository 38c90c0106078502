// Signed ticket codes: each ticket's code is its facts (ticket, event, ticket type, seat, issue
// time) signed with its event's Ed25519 key, so a scanner holding the event's public key can
// check a code offline. Codes are `t1.<payload>.<signature>`, both base64url; the payload is 61
// bytes. Private keys are kept sealed (AES-256-GCM under a key derived from the server secret).
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, generateKeyPairSync, hkdfSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import type { Sql } from '../store/index.ts';

export interface TicketFacts {
  ticketId: string;
  eventId: string;
  ticketTypeId: string;
  seatId: string | null;
  issuedAt: Date;
}

const VERSION = 1;
const PAYLOAD_BYTES = 1 + 16 + 16 + 16 + 8 + 4;
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

const uuidBytes = (id: string) => Buffer.from(id.replace(/-/g, ''), 'hex');
const uuidOf = (b: Buffer) => {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

export function encodeFacts(facts: TicketFacts): Buffer {
  const out = Buffer.alloc(PAYLOAD_BYTES);
  out.writeUInt8(VERSION, 0);
  uuidBytes(facts.ticketId).copy(out, 1);
  uuidBytes(facts.eventId).copy(out, 17);
  uuidBytes(facts.ticketTypeId).copy(out, 33);
  out.writeBigUInt64BE(BigInt(facts.seatId ?? 0), 49);
  out.writeUInt32BE(Math.floor(facts.issuedAt.getTime() / 1000), 57);
  return out;
}

export function decodeFacts(payload: Buffer): TicketFacts | null {
  if (payload.length !== PAYLOAD_BYTES || payload.readUInt8(0) !== VERSION) return null;
  const seat = payload.readBigUInt64BE(49);
  return {
    ticketId: uuidOf(payload.subarray(1, 17)),
    eventId: uuidOf(payload.subarray(17, 33)),
    ticketTypeId: uuidOf(payload.subarray(33, 49)),
    seatId: seat === 0n ? null : seat.toString(),
    issuedAt: new Date(payload.readUInt32BE(57) * 1000),
  };
}

export function publicKeyFromRaw(raw: Buffer): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
}

/** Checks a code against an event's public key (raw 32 bytes): its facts, or why not. */
export function verifyCode(code: string, publicKeyRaw: Buffer): { ok: true; facts: TicketFacts } | { ok: false; reason: 'malformed' | 'invalid_signature' } {
  const parts = code.split('.');
  if (parts.length !== 3 || parts[0] !== 't1' || !/^[A-Za-z0-9_-]+$/.test(parts[1]!) || !/^[A-Za-z0-9_-]+$/.test(parts[2]!)) return { ok: false, reason: 'malformed' };
  const payload = Buffer.from(parts[1]!, 'base64url');
  const signature = Buffer.from(parts[2]!, 'base64url');
  const facts = decodeFacts(payload);
  if (!facts || signature.length !== 64) return { ok: false, reason: 'malformed' };
  if (!verify(null, payload, publicKeyFromRaw(publicKeyRaw), signature)) return { ok: false, reason: 'invalid_signature' };
  return { ok: true, facts };
}

/** Just the facts a code claims, unchecked (to find which event's key to check it with). */
export function peekFacts(code: string): TicketFacts | null {
  const parts = code.split('.');
  if (parts.length !== 3 || parts[0] !== 't1') return null;
  return decodeFacts(Buffer.from(parts[1] ?? '', 'base64url'));
}

export function createTicketSigner(sql: Sql, serverSecret: string) {
  const sealKey = Buffer.from(hkdfSync('sha256', serverSecret, 'boxoffice', 'ticket signing keys v1', 32));
  const keys = new Map<string, Promise<{ privateKey: KeyObject; publicRaw: Buffer }>>();

  const seal = (der: Buffer) => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', sealKey, iv);
    const body = Buffer.concat([cipher.update(der), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]);
  };
  const unseal = (sealed: Buffer) => {
    const decipher = createDecipheriv('aes-256-gcm', sealKey, sealed.subarray(0, 12));
    decipher.setAuthTag(sealed.subarray(12, 28));
    return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]);
  };

  async function load(eventId: string) {
    const [existing] = await sql<{ public_key: Buffer; private_key_sealed: Buffer }[]>`
      select public_key, private_key_sealed from event_signing_keys where event_id = ${eventId}`;
    if (existing) {
      return { privateKey: createPrivateKey({ key: unseal(existing.private_key_sealed), format: 'der', type: 'pkcs8' }), publicRaw: existing.public_key };
    }
    const pair = generateKeyPairSync('ed25519');
    const publicRaw = pair.publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_ED25519_PREFIX.length);
    const sealed = seal(pair.privateKey.export({ format: 'der', type: 'pkcs8' }));
    // Two nodes creating at once: the first insert wins, and both use what it stored.
    await sql`insert into event_signing_keys (event_id, public_key, private_key_sealed) values (${eventId}, ${publicRaw}, ${sealed}) on conflict do nothing`;
    return load(eventId);
  }

  function keyOf(eventId: string) {
    let key = keys.get(eventId);
    if (!key) {
      key = load(eventId);
      key.catch(() => keys.delete(eventId));
      keys.set(eventId, key);
    }
    return key;
  }

  return {
    async codeFor(facts: TicketFacts): Promise<string> {
      const { privateKey } = await keyOf(facts.eventId);
      const payload = encodeFacts(facts);
      return `t1.${payload.toString('base64url')}.${sign(null, payload, privateKey).toString('base64url')}`;
    },
    /** The event's public key, raw 32 bytes (created with the first ticket if need be). */
    async publicKey(eventId: string): Promise<Buffer> {
      return (await keyOf(eventId)).publicRaw;
    },
  };
}

export type TicketSigner = ReturnType<typeof createTicketSigner>;
