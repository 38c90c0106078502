// The naive purchase path's own tables (in the run's throwaway database): ticket types with a sold
// counter guarded by a check, and purchases. Created once, whichever process comes first; stocked
// from the events of the run; read back to check that the baseline never oversold either.
import type { Sql } from '../../server/store/index.ts';

export async function createNaiveTables(sql: Sql): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtext('naive-purchase-tables'))`;
    await tx`create table if not exists naive_ticket_types (
      id uuid primary key, event_id uuid not null, capacity integer not null,
      sold integer not null default 0 check (sold >= 0 and sold <= capacity))`;
    await tx`create table if not exists naive_purchases (
      id uuid primary key default gen_random_uuid(),
      ticket_type_id uuid not null references naive_ticket_types (id),
      customer_id uuid not null, quantity integer not null, seat_id bigint,
      idempotency_key text not null, created_at timestamptz not null default now(),
      unique (customer_id, idempotency_key))`;
    await tx`create unique index if not exists naive_purchases_seat_once on naive_purchases (ticket_type_id, seat_id) where seat_id is not null`;
  });
}

/** The same ticket types (ids, events, capacities) as the run's events, with nothing sold. */
export async function stockNaive(sql: Sql, types: readonly { ticketTypeId: string; eventId: string; capacity: number }[]): Promise<void> {
  await createNaiveTables(sql);
  for (const t of types) {
    await sql`
      insert into naive_ticket_types (id, event_id, capacity) values (${t.ticketTypeId}, ${t.eventId}, ${t.capacity})
      on conflict (id) do update set sold = 0, capacity = excluded.capacity`;
    await sql`delete from naive_purchases where ticket_type_id = ${t.ticketTypeId}`;
  }
}

/** Oversold or inconsistent ticket types of the baseline (none expected: the row lock serialises them). */
export async function naiveBroken(sql: Sql, ticketTypeIds: readonly string[]): Promise<string[]> {
  const rows = await sql<{ id: string; capacity: number; sold: number; bought: number; seats_twice: number }[]>`
    select t.id, t.capacity, t.sold,
           (select coalesce(sum(quantity), 0)::int from naive_purchases p where p.ticket_type_id = t.id) as bought,
           (select count(*)::int from (select seat_id from naive_purchases p where p.ticket_type_id = t.id and seat_id is not null
                                       group by seat_id having count(*) > 1) d) as seats_twice
    from naive_ticket_types t where t.id in ${sql(ticketTypeIds)}`;
  return rows.flatMap((r) => [
    ...(r.sold > r.capacity ? [`naive ${r.id}: sold ${r.sold} > capacity ${r.capacity}`] : []),
    ...(r.sold !== r.bought ? [`naive ${r.id}: sold ${r.sold}, purchases hold ${r.bought}`] : []),
    ...(r.seats_twice ? [`naive ${r.id}: ${r.seats_twice} seats sold twice`] : []),
  ]);
}
