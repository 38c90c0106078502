// The mailer interface and its two implementations: SMTP (by config) and the development outbox,
// a table the demo and the tests read. Delivery is idempotent by the queue job id.
import nodemailer from 'nodemailer';
import type { Sql } from '../store/index.ts';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
}

export interface Mailer {
  deliver(jobId: string, message: MailMessage): Promise<void>;
  close?(): Promise<void>;
}

export function createOutboxMailer(sql: Sql): Mailer {
  return {
    async deliver(jobId, message) {
      await sql`
        insert into mail_outbox (job_id, recipient, subject, body)
        values (${jobId}, ${message.to}, ${message.subject}, ${message.text})
        on conflict (job_id) do nothing`;
    },
  };
}

export function createSmtpMailer(smtpUrl: string, from: string): Mailer {
  const transport = nodemailer.createTransport(smtpUrl);
  return {
    async deliver(jobId, message) {
      // SMTP has no idempotency key; the Message-ID lets receiving servers drop a retried duplicate.
      await transport.sendMail({ from, to: message.to, subject: message.subject, text: message.text, messageId: `<${jobId}@boxoffice>` });
    },
    close: () => Promise.resolve(transport.close()),
  };
}

export interface OutboxMail {
  recipient: string;
  subject: string;
  body: string;
  createdAt: Date;
}

/** Mail the outbox mailer delivered to `recipient`, newest first (development and tests). */
export async function readOutbox(sql: Sql, recipient: string, limit = 20): Promise<OutboxMail[]> {
  return sql<OutboxMail[]>`
    select recipient, subject, body, created_at as "createdAt" from mail_outbox
    where recipient = ${recipient} order by id desc limit ${limit}`;
}
