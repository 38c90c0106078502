-- The development outbox: where the default mailer delivers, so the demo and the tests can read
-- the mail a real deployment would send by SMTP. Production uses SMTP and leaves it empty.
create table mail_outbox (
  id         bigint generated always as identity primary key,
  job_id     text not null,
  recipient  text not null check (length(recipient) <= 254),
  subject    text not null check (length(subject) <= 200),
  body       text not null check (length(body) <= 20000),
  created_at timestamptz not null default now()
);
-- Delivery is retried by the queue; the job id makes a retried delivery land once.
create unique index mail_outbox_job_key on mail_outbox (job_id);
create index mail_outbox_recipient_idx on mail_outbox (recipient, created_at desc);
