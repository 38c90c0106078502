drop table scan_conflicts;
drop table checkins;
alter table scanner_devices drop column can_override;
alter table tickets drop column admitted_by_device, drop column admitted_at;
drop table event_signing_keys;
