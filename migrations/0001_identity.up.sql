-- Identity: accounts, sessions (refresh-token families), one-time login codes, organizer requests,
-- and the append-only audit log. Roles are a column only an admin path writes (never user input).

create function boxoffice_refuse_change() returns trigger
language plpgsql as $$
begin
  raise exception '% is append-only', tg_table_name using errcode = 'restrict_violation';
end;
$$;

create table users (
  id                uuid primary key default gen_random_uuid(),
  email             text not null check (length(email) between 3 and 254 and email = lower(email)),
  password_hash     text check (length(password_hash) <= 512),
  display_name      text check (length(display_name) <= 100),
  role              text not null default 'customer' check (role in ('customer', 'organizer', 'admin')),
  email_verified_at timestamptz,
  disabled_at       timestamptz,
  created_at        timestamptz not null default now(),
  updated_at        timestamptz not null default now()
);
create unique index users_email_key on users (email);

create table sessions (
  id             uuid primary key default gen_random_uuid(),
  user_id        uuid not null references users (id) on delete cascade,
  created_at     timestamptz not null default now(),
  last_used_at   timestamptz not null default now(),
  expires_at     timestamptz not null,
  revoked_at     timestamptz,
  revoked_reason text check (length(revoked_reason) <= 64),
  user_agent     text check (length(user_agent) <= 512),
  ip             inet
);
create index sessions_user_active_idx on sessions (user_id) where revoked_at is null;

create table refresh_tokens (
  id          uuid primary key default gen_random_uuid(),
  session_id  uuid not null references sessions (id) on delete cascade,
  token_hash  bytea not null,
  issued_at   timestamptz not null default now(),
  expires_at  timestamptz not null,
  rotated_at  timestamptz,
  replaced_by uuid references refresh_tokens (id)
);
create unique index refresh_tokens_hash_key on refresh_tokens (token_hash);
create index refresh_tokens_session_idx on refresh_tokens (session_id);

-- One-time codes sent by email. A 'register' code carries the password chosen at registration;
-- it is set only when the code proves the caller owns the address.
create table login_codes (
  id                    uuid primary key default gen_random_uuid(),
  email                 text not null check (length(email) <= 254),
  code_hash             bytea not null,
  purpose               text not null check (purpose in ('sign_in', 'register')),
  pending_password_hash text check (length(pending_password_hash) <= 512),
  attempts              integer not null default 0 check (attempts between 0 and 5),
  created_at            timestamptz not null default now(),
  expires_at            timestamptz not null,
  consumed_at           timestamptz
);
create index login_codes_email_idx on login_codes (email, created_at desc);

create table organizer_requests (
  id                uuid primary key default gen_random_uuid(),
  user_id           uuid not null references users (id) on delete cascade,
  organization_name text not null check (length(organization_name) between 1 and 200),
  message           text not null default '' check (length(message) <= 2000),
  status            text not null default 'pending' check (status in ('pending', 'approved', 'rejected')),
  decided_by        uuid references users (id),
  decided_at        timestamptz,
  decision_note     text check (length(decision_note) <= 2000),
  created_at        timestamptz not null default now(),
  check ((status = 'pending') = (decided_at is null))
);
create unique index organizer_requests_one_pending on organizer_requests (user_id) where status = 'pending';

-- Who did what to whom, when and why. Rows are never updated or deleted.
create table audit_log (
  id           bigint generated always as identity primary key,
  at           timestamptz not null default now(),
  action       text not null check (action ~ '^[a-z_]+(\.[a-z_]+)+$'),
  actor_kind   text not null check (actor_kind in ('user', 'device', 'system')),
  actor_id     text,
  subject_type text,
  subject_id   text,
  reason       text check (length(reason) <= 2000),
  data         jsonb not null default '{}'::jsonb,
  request_id   text,
  trace_id     text
);
create index audit_log_subject_idx on audit_log (subject_type, subject_id, at);
create trigger audit_log_append_only before update or delete on audit_log
  for each row execute function boxoffice_refuse_change();
