-- Waiting rooms (issue 10): an event marked high-demand gets a virtual waiting room in front of its
-- sale. An organizer may force the room on or off (null: follow high_demand) and set its admission
-- rate (null: the server's WAITING_ROOM_ADMIT_PER_SECOND). The queue itself lives in Redis.

alter table events
  add column high_demand      boolean not null default false,
  add column waiting_room     boolean,
  add column admit_per_second integer check (admit_per_second between 1 and 2000);
