-- Payments with real providers: one row per payment a purchase started (whatever the provider),
-- every webhook event stored once (the deduplication key is provider + event id), refunds, and
-- tickets that a refund voided.

create table payments (
  id            text not null,
  provider      text not null check (provider in ('sandbox', 'stripe', 'paystack')),
  purchase_id   uuid not null references purchases (id),
  amount_minor  integer not null check (amount_minor >= 0),
  currency      text not null check (currency ~ '^[A-Z]{3}$'),
  -- What the buyer's page needs to pay: a Stripe client secret, a Paystack authorization URL.
  client_secret text,
  redirect_url  text,
  status        text not null default 'pending' check (status in ('pending', 'succeeded', 'failed', 'cancelled')),
  refunded_minor integer not null default 0 check (refunded_minor >= 0),
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now(),
  primary key (provider, id),
  check (refunded_minor <= amount_minor)
);
create index payments_purchase_idx on payments (purchase_id);
create index payments_pending_idx on payments (created_at) where status = 'pending';

create table webhook_events (
  provider     text not null,
  event_id     text not null,
  event_type   text not null,
  purchase_id  uuid,
  payload      jsonb not null,
  -- The outcome it reports, in the provider-neutral shape (null: nothing to act on).
  normalized   jsonb,
  received_at  timestamptz not null default now(),
  -- 'processed' (delivered to the purchase), 'ignored' (nothing to do; reason says why).
  outcome      text check (outcome in ('processed', 'ignored')),
  reason       text,
  processed_at timestamptz,
  primary key (provider, event_id)
);
create index webhook_events_purchase_idx on webhook_events (purchase_id);

create table refunds (
  id            uuid primary key default gen_random_uuid(),
  purchase_id   uuid not null references purchases (id),
  -- The purchase step that asked for it: a retried effect finds its refund instead of making another.
  step          text not null unique,
  provider      text not null,
  payment_id    text not null,
  provider_refund_id text,
  amount_minor  integer not null check (amount_minor > 0),
  currency      text not null,
  ticket_ids    uuid[],
  requested_by  uuid references users (id),
  reason        text not null check (length(reason) between 1 and 200),
  created_at    timestamptz not null default now()
);
create index refunds_purchase_idx on refunds (purchase_id);

alter table tickets
  add column voided_at  timestamptz,
  -- The purchase step that voided it: inventory is returned once per step.
  add column voided_by_step text;
