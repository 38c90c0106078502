drop table tickets;
drop table purchase_outbox;
drop table purchase_transitions;
drop table purchases;
