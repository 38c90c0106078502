-- Catalog: events, ticket types, seats, promo codes, and the scanner devices bound to an event.
-- Money is integer minor units with an ISO-4217 code; every rule a constraint can hold is one here.

create table events (
  id             uuid primary key default gen_random_uuid(),
  organizer_id   uuid not null references users (id),
  slug           text not null check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length(slug) between 3 and 80),
  title          text not null check (length(title) between 1 and 200),
  description    text not null default '' check (length(description) <= 10000),
  venue_name     text check (length(venue_name) <= 200),
  venue_address  text check (length(venue_address) <= 500),
  timezone       text not null check (length(timezone) between 1 and 64),
  starts_at      timestamptz not null,
  ends_at        timestamptz not null,
  sales_start_at timestamptz not null,
  sales_end_at   timestamptz not null,
  status         text not null default 'draft' check (status in ('draft', 'published', 'cancelled', 'ended')),
  published_at   timestamptz,
  cancelled_at   timestamptz,
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now(),
  search         tsvector generated always as (
    to_tsvector('simple', title || ' ' || coalesce(venue_name, '') || ' ' || description)
  ) stored,
  check (ends_at > starts_at),
  check (sales_end_at > sales_start_at),
  check (sales_end_at <= ends_at)
);
create unique index events_slug_key on events (slug);
create index events_organizer_idx on events (organizer_id);
create index events_published_idx on events (starts_at, id) where status = 'published';
create index events_search_idx on events using gin (search);

create table ticket_types (
  id             uuid primary key default gen_random_uuid(),
  event_id       uuid not null references events (id) on delete restrict,
  name           text not null check (length(name) between 1 and 100),
  description    text not null default '' check (length(description) <= 2000),
  kind           text not null check (kind in ('general', 'seated')),
  price_minor    integer not null check (price_minor >= 0),
  currency       text not null check (currency ~ '^[A-Z]{3}$'),
  capacity       integer not null check (capacity >= 0),
  sold           integer not null default 0 check (sold >= 0),
  per_order_max  integer not null default 10 check (per_order_max between 1 and 100),
  sales_start_at timestamptz,
  sales_end_at   timestamptz,
  status         text not null default 'on_sale' check (status in ('on_sale', 'closed')),
  sort_order     integer not null default 0,
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now(),
  check (sold <= capacity),
  check (sales_end_at is null or sales_start_at is null or sales_end_at > sales_start_at)
);
create unique index ticket_types_event_name_key on ticket_types (event_id, name);

create table seats (
  id             bigint generated always as identity primary key,
  event_id       uuid not null references events (id) on delete restrict,
  ticket_type_id uuid not null references ticket_types (id) on delete restrict,
  section        text not null check (length(section) between 1 and 40),
  row_label      text not null check (length(row_label) between 1 and 10),
  seat_number    text not null check (length(seat_number) between 1 and 10),
  x              real,
  y              real,
  status         text not null default 'open' check (status in ('open', 'closed'))
);
create unique index seats_event_label_key on seats (event_id, section, row_label, seat_number);
create index seats_ticket_type_idx on seats (ticket_type_id);

create table promo_codes (
  id                 uuid primary key default gen_random_uuid(),
  event_id           uuid not null references events (id) on delete restrict,
  code               text not null check (code ~ '^[A-Z0-9_-]{3,32}$'),
  discount_kind      text not null check (discount_kind in ('percent', 'fixed')),
  percent_off        integer check (percent_off > 0 and percent_off <= 100),
  amount_off_minor   integer check (amount_off_minor > 0),
  max_uses           integer check (max_uses > 0),
  uses               integer not null default 0 check (uses >= 0),
  per_customer_limit integer check (per_customer_limit > 0),
  valid_from         timestamptz,
  valid_until        timestamptz,
  created_at         timestamptz not null default now(),
  check ((discount_kind = 'percent') = (percent_off is not null and amount_off_minor is null)),
  check ((discount_kind = 'fixed') = (amount_off_minor is not null and percent_off is null)),
  check (max_uses is null or uses <= max_uses),
  check (valid_until is null or valid_from is null or valid_until > valid_from)
);
create unique index promo_codes_event_code_key on promo_codes (event_id, code);

-- An empty scope means the code applies to every ticket type of its event.
create table promo_code_ticket_types (
  promo_code_id  uuid not null references promo_codes (id) on delete cascade,
  ticket_type_id uuid not null references ticket_types (id) on delete restrict,
  primary key (promo_code_id, ticket_type_id)
);

create table scanner_devices (
  id           uuid primary key default gen_random_uuid(),
  event_id     uuid not null references events (id) on delete restrict,
  name         text not null check (length(name) between 1 and 100),
  token_hash   bytea not null,
  created_by   uuid not null references users (id),
  created_at   timestamptz not null default now(),
  last_seen_at timestamptz,
  revoked_at   timestamptz
);
create unique index scanner_devices_token_key on scanner_devices (token_hash);
create index scanner_devices_event_idx on scanner_devices (event_id);
