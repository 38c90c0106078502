alter table tickets drop column voided_by_step, drop column voided_at;
drop table refunds;
drop table webhook_events;
drop table payments;
