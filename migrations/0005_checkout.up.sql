-- Checkout: what a purchase was priced at (its breakdown and promo code), the per-customer limit's
-- index, and the sandbox payment provider (development and demos only; production refuses it).

alter table purchases
  add column promo_code_id   uuid references promo_codes (id),
  add column pricing         jsonb not null default '{}'::jsonb,
  -- Set when a purchase that ended unpaid gave its promo-code use back (at most once).
  add column promo_returned  boolean not null default false;
create index purchases_customer_event_idx on purchases (customer_id, event_id);
create index purchases_promo_live_idx on purchases (promo_code_id) where promo_code_id is not null;

-- A payment the buyer succeeds or fails by hand, reported through the same queue a real webhook uses.
create table sandbox_payments (
  id              text primary key,
  purchase_id     uuid not null references purchases (id),
  amount_minor    integer not null check (amount_minor >= 0),
  currency        text not null,
  status          text not null default 'pending' check (status in ('pending', 'succeeded', 'failed', 'cancelled', 'refunded')),
  idempotency_key text not null,
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now()
);
create unique index sandbox_payments_idempotency_key on sandbox_payments (idempotency_key);
create index sandbox_payments_purchase_idx on sandbox_payments (purchase_id);
