export { createOutboxMailer, createSmtpMailer, readOutbox, type Mailer, type MailMessage, type OutboxMail } from './mailer.ts';
export { createMailQueue, MAIL_QUEUE, startMailWorker, type MailQueue } from './queue.ts';
