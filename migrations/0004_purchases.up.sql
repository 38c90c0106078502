-- Purchases: the durable purchase actor (its snapshot, guarded by a version), its append-only
-- transition log, the outbox of effects its transitions asked for, and the tickets it issues.
-- No foreign key points at ticket_types: that row is the hottest of an on-sale, and a key check
-- would lock it on every insert.

create table purchases (
  id               uuid primary key,
  event_id         uuid not null references events (id),
  customer_id      uuid not null references users (id),
  state            text not null,
  snapshot         jsonb not null,
  version          integer not null check (version >= 1),
  hold_deadline    timestamptz,
  amount_minor     integer not null check (amount_minor >= 0),
  currency         text not null check (currency ~ '^[A-Z]{3}$'),
  idempotency_key  text not null check (length(idempotency_key) between 1 and 200),
  request_hash     text not null,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now()
);
create unique index purchases_idempotency_key on purchases (customer_id, idempotency_key);
create index purchases_event_idx on purchases (event_id);
create index purchases_live_deadline_idx on purchases (hold_deadline) where state in ('held', 'paying');

create table purchase_transitions (
  purchase_id uuid not null references purchases (id),
  seq         integer not null check (seq >= 1),
  from_state  text,
  to_state    text not null,
  event_type  text not null,
  payload     jsonb not null default '{}'::jsonb,
  trace_id    text,
  at          timestamptz not null default now(),
  primary key (purchase_id, seq)
);
create trigger purchase_transitions_append_only before update or delete on purchase_transitions
  for each row execute function boxoffice_refuse_change();

create table purchase_outbox (
  id          bigint generated always as identity primary key,
  purchase_id uuid not null references purchases (id),
  -- <transition seq>:<effect index>: an effect is run (and retried) under this key, never twice in effect.
  step        text not null,
  effect      text not null,
  params      jsonb not null,
  created_at  timestamptz not null default now(),
  attempts    integer not null default 0,
  last_error  text,
  done_at     timestamptz
);
create unique index purchase_outbox_step_key on purchase_outbox (purchase_id, step);
create index purchase_outbox_pending_idx on purchase_outbox (created_at) where done_at is null;

create table tickets (
  id             uuid primary key default gen_random_uuid(),
  purchase_id    uuid not null references purchases (id),
  event_id       uuid not null references events (id),
  ticket_type_id uuid not null,
  seat_id        bigint,
  code           text not null,
  status         text not null default 'valid' check (status in ('valid', 'void')),
  issued_at      timestamptz not null default now()
);
create unique index tickets_code_key on tickets (code);
-- The final arbiter for seats: a seat is sold at most once.
create unique index tickets_seat_once on tickets (seat_id) where seat_id is not null and status = 'valid';
create index tickets_purchase_idx on tickets (purchase_id);
