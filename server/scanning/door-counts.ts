// How many are in: valid admitted tickets of an event, per device.
import type { Sql } from '../store/index.ts';

export interface DoorCounts {
  eventId: string;
  admitted: number;
  devices: { deviceId: string; name: string; admitted: number }[];
}

export async function doorCounts(sql: Sql, eventId: string): Promise<DoorCounts> {
  const devices = await sql<DoorCounts['devices']>`
    select d.id as "deviceId", d.name, count(t.id)::int as admitted
    from scanner_devices d left join tickets t on t.admitted_by_device = d.id and t.status = 'valid'
    where d.event_id = ${eventId} group by d.id, d.name order by d.name`;
  return { eventId, admitted: devices.reduce((sum, d) => sum + d.admitted, 0), devices };
}
