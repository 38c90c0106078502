// A scanner device simulator: connects to /scanner/v1 with a device token, reads ticket codes
// (one per line) from a file or stdin, and prints one JSON line per result. Online, each code is
// validated as it is read; with --offline it checks signatures itself with the event's public key
// and the revocation list, admits locally, and syncs everything at the end (as a door without
// network would once it is back).
//
//   npm run scanner -- --url http://127.0.0.1:3000 --token bxd_... [--offline] [--file codes.txt]
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { verifyCode } from '../../server/scanning/ticket-codes.ts';

const { values } = parseArgs({
  options: { url: { type: 'string', default: 'http://127.0.0.1:3000' }, token: { type: 'string' }, file: { type: 'string' }, offline: { type: 'boolean', default: false } },
});
const print = (line: unknown) => process.stdout.write(`${JSON.stringify(line)}\n`);
if (!values.token) {
  process.stderr.write('--token <device token> is required (an organizer creates one: POST /api/v1/organizer/events/:id/devices)\n');
  process.exit(2);
}

const ws = new WebSocket(`${values.url.replace(/^http/, 'ws')}/scanner/v1`, { headers: { authorization: `Bearer ${values.token}` } });
const pending = new Map<string, (reply: Record<string, unknown>) => void>();
ws.on('message', (data: Buffer) => {
  const reply = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
  const key = typeof reply['requestId'] === 'string' ? reply['requestId'] : String(reply['type']);
  const resolve = pending.get(key);
  if (resolve) {
    pending.delete(key);
    resolve(reply);
  } else print(reply);
});
ws.on('unexpected-response', (_req, res) => {
  process.stderr.write(`refused: HTTP ${res.statusCode}\n`);
  process.exit(1);
});
ws.on('close', (code) => {
  if (pending.size) process.stderr.write(`connection closed (${code}) with ${pending.size} answers outstanding\n`);
});
await new Promise<void>((resolve, reject) => {
  ws.once('open', () => resolve());
  ws.once('error', reject);
});
const ask = (message: Record<string, unknown>, key: string) =>
  new Promise<Record<string, unknown>>((resolve) => {
    pending.set(key, resolve);
    ws.send(JSON.stringify(message));
  });

const welcome = await ask({ type: 'hello', protocol: 1 }, 'welcome');
print(welcome);
const publicKey = Buffer.from(String(welcome['publicKey']), 'base64url');
const revoked = new Set<string>();
if (values.offline) {
  const list = await ask({ type: 'revocations', requestId: 'revocations' }, 'revocations');
  for (const id of list['ticketIds'] as string[]) revoked.add(id);
}

const input = values.file ? createReadStream(values.file) : process.stdin;
const offlineScans: { localId: string; code: string; scannedAt: Date }[] = [];
const admittedHere = new Set<string>();
for await (const line of createInterface({ input, crlfDelay: Infinity })) {
  const code = line.trim();
  if (!code) continue;
  if (!values.offline) {
    const requestId = randomUUID();
    print(await ask({ type: 'validate', requestId, code }, requestId));
    continue;
  }
  const checked = verifyCode(code, publicKey);
  const localId = randomUUID();
  if (!checked.ok) print({ localId, outcome: 'invalid_signature', offline: true });
  else if (revoked.has(checked.facts.ticketId)) print({ localId, outcome: 'revoked', offline: true });
  else if (admittedHere.has(checked.facts.ticketId)) print({ localId, outcome: 'already_admitted', offline: true });
  else {
    admittedHere.add(checked.facts.ticketId);
    offlineScans.push({ localId, code, scannedAt: new Date() });
    print({ localId, outcome: 'admitted', offline: true, ticketId: checked.facts.ticketId });
  }
}
for (let i = 0; i < offlineScans.length; i += 200) {
  const requestId = randomUUID();
  print(await ask({ type: 'sync', requestId, scans: offlineScans.slice(i, i + 200) }, requestId));
}
ws.close();
