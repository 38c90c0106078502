-- Scanning at the door: a signing key per event (tickets carry a code signed with it, so scanners
-- can check them offline), who admitted each ticket and when, and every scan in an append-only log.

create table event_signing_keys (
  event_id           uuid primary key references events (id),
  -- Ed25519: the raw 32-byte public key, and the private key sealed (AES-256-GCM) under a key
  -- derived from the server's secret; the database alone cannot sign tickets.
  public_key         bytea not null check (length(public_key) = 32),
  private_key_sealed bytea not null,
  created_at         timestamptz not null default now()
);

alter table tickets
  add column admitted_at        timestamptz,
  add column admitted_by_device uuid references scanner_devices (id);

alter table scanner_devices add column can_override boolean not null default false;

create table checkins (
  id          bigint generated always as identity primary key,
  event_id    uuid not null references events (id),
  ticket_id   uuid,
  device_id   uuid not null references scanner_devices (id),
  outcome     text not null check (outcome in ('admitted', 'already_admitted', 'invalid_signature', 'unknown_ticket',
                                               'wrong_event', 'revoked', 'not_valid_yet', 'overridden')),
  source      text not null default 'online' check (source in ('online', 'offline', 'override')),
  reason      text check (length(reason) <= 500),
  scanned_at  timestamptz not null default now(),
  recorded_at timestamptz not null default now()
);
create index checkins_event_idx on checkins (event_id, recorded_at);
create index checkins_ticket_idx on checkins (ticket_id) where ticket_id is not null;
create trigger checkins_append_only before update or delete on checkins
  for each row execute function boxoffice_refuse_change();

-- The same ticket admitted at two doors while one of them was offline: kept for the organizer.
-- The earlier scan is the admission; the later one is the conflict.
create table scan_conflicts (
  id            bigint generated always as identity primary key,
  event_id      uuid not null references events (id),
  ticket_id     uuid not null references tickets (id),
  kept_device   uuid not null references scanner_devices (id),
  kept_at       timestamptz not null,
  other_device  uuid not null references scanner_devices (id),
  other_at      timestamptz not null,
  recorded_at   timestamptz not null default now()
);
create index scan_conflicts_event_idx on scan_conflicts (event_id, recorded_at);
