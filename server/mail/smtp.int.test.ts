// Mail by SMTP, through the queue, to a real SMTP server on loopback: the code arrives and signs
// the user in; and while the SMTP server is down the mail waits in the queue and is delivered
// once it is back (retries with backoff), not lost.
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../local/system.ts';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '../../test/helpers/databases.ts';
import { call, startTestServer } from '../../test/helpers/server.ts';

interface Received {
  to: string;
  text: string;
}

function smtpServer(received: Received[]): SMTPServer {
  return new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      let raw = '';
      stream.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      stream.on('end', () => {
        received.push({ to: session.envelope.rcptTo.map((r) => r.address).join(','), text: raw });
        callback();
      });
    },
  });
}

const listen = (server: SMTPServer, port: number) => new Promise<number>((resolve) => server.listen(port, '127.0.0.1', () => resolve((server.server.address() as AddressInfo).port)));
const close = (server: SMTPServer) => new Promise<void>((resolve) => server.close(() => resolve()));

async function waitFor<T>(probe: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('SMTP delivery', () => {
  let db: TestDatabase;
  let redis: TestRedis;

  beforeAll(async () => {
    [db, redis] = await Promise.all([createTestDatabase(), createTestRedis()]);
  });
  afterAll(async () => {
    await Promise.all([db.drop(), redis.cleanup()]);
  });

  it('delivers the sign-in code by SMTP, and the code signs the user in', async () => {
    const received: Received[] = [];
    const smtp = smtpServer(received);
    const port = await listen(smtp, 0);
    const node = await startTestServer(db, redis, { MAILER: 'smtp', SMTP_URL: `smtp://127.0.0.1:${port}`, MAIL_FROM: 'boxoffice <tickets@example.com>' });
    try {
      expect((await call(`${node.api}/auth/code`, { body: { email: 'smtp-user@example.com' } })).status).toBe(202);
      const mail = await waitFor(() => received.find((m) => m.to === 'smtp-user@example.com'), 10_000);
      expect(mail.text).toMatch(/^From: .*tickets@example\.com/m);
      expect(mail.text).toMatch(/^Subject: Your boxoffice sign-in code/m);
      const code = /code is (\d{6})/.exec(mail.text)?.[1];
      expect(code).toMatch(/^\d{6}$/);
      const signedIn = await call(`${node.api}/auth/code/verify`, { body: { email: 'smtp-user@example.com', code } });
      expect(signedIn.status).toBe(200);
      // Nothing went to the development outbox, and its route does not exist with SMTP.
      const [outbox] = await db.sql<{ n: number }[]>`select count(*)::int as n from mail_outbox`;
      expect(outbox?.n).toBe(0);
      expect((await call(`${node.api}/dev/outbox?email=smtp-user@example.com`)).status).toBe(404);
    } finally {
      await node.stop();
      await close(smtp);
    }
  });

  it('keeps the mail queued while SMTP is down and delivers it when it is back', async () => {
    const port = await freePort();
    const node = await startTestServer(db, redis, { MAILER: 'smtp', SMTP_URL: `smtp://127.0.0.1:${port}` });
    const received: Received[] = [];
    const smtp = smtpServer(received);
    try {
      expect((await call(`${node.api}/auth/code`, { body: { email: 'patient@example.com' } })).status).toBe(202);
      await new Promise((resolve) => setTimeout(resolve, 700)); // the first attempt fails: nobody listens
      expect(received).toHaveLength(0);
      await listen(smtp, port);
      const mail = await waitFor(() => received.find((m) => m.to === 'patient@example.com'), 15_000);
      expect(mail.text).toMatch(/code is \d{6}/);
    } finally {
      await node.stop();
      await close(smtp);
    }
  });
});
